# `derivation`: the user-facing wrapper around `derivationStrict`, with
# CppNix's attribute layout. The result is the first output's set; every
# output's set holds the derivation's attributes, `drvAttrs`, `drvPath`,
# its `outPath` and `outputName`, `type = "derivation"`, and one attribute
# per output (`out`, `dev`, …) pointing at that output's set, plus `all`.
drvAttrs@{ outputs ? [ "out" ], ... }:
let
  strict = derivationStrict drvAttrs;
  shared = drvAttrs // builtins.listToAttrs byOutput // {
    all = map (o: o.value) byOutput;
    inherit drvAttrs;
  };
  forOutput = outputName: {
    name = outputName;
    value = shared // {
      outPath = builtins.getAttr outputName strict;
      drvPath = strict.drvPath;
      type = "derivation";
      inherit outputName;
    };
  };
  byOutput = map forOutput outputs;
in
(builtins.head byOutput).value
