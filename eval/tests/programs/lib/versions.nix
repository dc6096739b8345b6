{ lib }:
let
  inherit (builtins) splitVersion elemAt length match;
in
{
  versions = rec {
    splitVersion = builtins.splitVersion;
    major = v: elemAt (splitVersion v) 0;
    minor = v: elemAt (splitVersion v) 1;
    patch = v: elemAt (splitVersion v) 2;
    majorMinor = v: "${major v}.${minor v}";
    pad = n: version:
      let
        numericVersion = elemAt (match "([[:digit:]\\.]+)(.*)" version) 0;
        versionSuffix = elemAt (match "([[:digit:]\\.]+)(.*)" version) 1;
        strippedVersion = lib.take n (splitVersion numericVersion);
        padded = strippedVersion ++ builtins.genList (_: "0") (n - length strippedVersion);
      in
      builtins.concatStringsSep "." padded + versionSuffix;
  };

  # The newest of a list of versions.
  latestVersion = vs: builtins.foldl' (a: b: if builtins.compareVersions a b < 0 then b else a) (builtins.head vs) vs;

  # Whether a version is within [lower, upper).
  versionInRange = lower: upper: v:
    builtins.compareVersions v lower >= 0 && builtins.compareVersions v upper < 0;

  sortVersions = builtins.sort (a: b: builtins.compareVersions a b < 0);
}
