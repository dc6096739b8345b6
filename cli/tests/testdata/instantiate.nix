{ system ? "x86_64-linux" }:
let mk = name: derivation { inherit name system; builder = "/bin/sh"; };
in {
  a = mk "a";
  b = [ (mk "b") ];
  c = { recurseForDerivations = true; d = mk "d"; e = { f = mk "f"; }; };
  g = { h = mk "h"; };
  i = 1;
  j = mk "a";
}
