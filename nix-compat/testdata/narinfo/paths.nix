# Store paths whose narinfo files are committed next to this file (see generate.sh).
let
  # A text path (CA "text:sha256:…") without references.
  greeting = builtins.toFile "greeting.txt" "hello\n";
  # A text path that refers to another store path, so its narinfo has References.
  refers = builtins.toFile "refers-to-greeting" "see ${greeting}\n";
in
{
  # An input-addressed build output: it has a Deriver, no CA, and references
  # itself and two other paths (so the fingerprint lists several, sorted).
  built = derivation {
    name = "built-output";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo $out ${refers} ${greeting} > $out" ];
  };
}
