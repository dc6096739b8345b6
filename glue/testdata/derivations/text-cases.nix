# Derivations with text-hashed outputs (`outputHashMode = "text"`), which
# CppNix 2.26 accepts with the `dynamic-derivations` experimental feature
# and Nix 2.8 refuses: generate.sh instantiates these with CppNix 2.26
# (modern-nix). See cases.nix.
{ fixture }:
let
  mk =
    attrs:
    derivation (
      {
        builder = "/bin/sh";
        system = "x86_64-linux";
        outputHashMode = "text";
      }
      // attrs
    );
in
{
  text-output = mk {
    name = "text-output";
    outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  };
  text-output-drv-name = mk {
    name = "produces.drv";
    outputHash = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
  };
  text-output-as-input = derivation {
    name = "text-output-as-input";
    builder = "/bin/sh";
    system = "x86_64-linux";
    dep = mk {
      name = "dep";
      outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
      outputHashAlgo = "sha256";
      src = "${fixture}/file.txt";
    };
  };
}
