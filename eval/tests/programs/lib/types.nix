# Option types: each has a name, a description, `check` for one value
# and `merge loc defs` for the definitions of an option (a list of
# { file; value; }, already checked).
{ lib }:
let
  inherit (builtins) all isString isInt isBool isList isAttrs length head concatMap elem concatStringsSep;

  showOption = loc: concatStringsSep "." loc;
  showFiles = defs: concatStringsSep ", " (map (d: d.file) defs);

  mkOptionType = { name, description ? name, check ? (_: true), merge ? mergeEqualOption, nestedTypes ? { } }:
    { _type = "option-type"; inherit name description check merge nestedTypes; };

  mergeEqualOption = loc: defs:
    if defs == [ ] then throw "The option `${showOption loc}' has no definitions."
    else if all (d: d.value == (head defs).value) defs then (head defs).value
    else throw "The option `${showOption loc}' has conflicting definition values in ${showFiles defs}.";

  # Checks every definition of `loc` against `type`, then merges them.
  checkedMerge = type: loc: defs:
    let
      bad = builtins.filter (d: !(type.check d.value)) defs;
    in
    if bad != [ ] then
      throw "A definition for option `${showOption loc}' is not of type `${type.description}' (in ${showFiles bad})."
    else type.merge loc defs;
in
{
  inherit showOption mergeEqualOption checkedMerge;

  types = rec {
    unspecified = mkOptionType { name = "unspecified"; merge = loc: defs: (lib.last defs).value; };
    str = mkOptionType { name = "str"; description = "string"; check = isString; };
    int = mkOptionType { name = "int"; description = "signed integer"; check = isInt; };
    bool = mkOptionType { name = "bool"; description = "boolean"; check = isBool; };
    port = mkOptionType {
      name = "port";
      description = "16 bit unsigned integer";
      check = x: isInt x && x >= 0 && x <= 65535;
    };
    lines = mkOptionType {
      name = "lines";
      description = "strings concatenated with \"\\n\"";
      check = isString;
      merge = loc: defs: concatStringsSep "\n" (map (d: d.value) defs);
    };

    enum = values: mkOptionType {
      name = "enum";
      description = "one of ${concatStringsSep ", " (map builtins.toJSON values)}";
      check = x: elem x values;
    };

    nullOr = elemType: mkOptionType {
      name = "nullOr";
      description = "null or ${elemType.description}";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        let nulls = builtins.filter (d: d.value == null) defs; in
        if length nulls == length defs then null
        else if nulls != [ ] then throw "The option `${showOption loc}' is defined both null and not null."
        else checkedMerge elemType loc defs;
      nestedTypes.elemType = elemType;
    };

    listOf = elemType: mkOptionType {
      name = "listOf";
      description = "list of ${elemType.description}";
      check = isList;
      merge = loc: defs:
        lib.imap1 (n: def: checkedMerge elemType (loc ++ [ "[definition ${toString n}]" ]) [ def ])
          (concatMap (d: map (value: { inherit (d) file; inherit value; }) d.value) defs);
      nestedTypes.elemType = elemType;
    };

    attrsOf = elemType: mkOptionType {
      name = "attrsOf";
      description = "attribute set of ${elemType.description}";
      check = isAttrs;
      merge = loc: defs:
        let
          # Each attribute's definitions, with mkIf and mkMerge inside
          # them discharged.
          perName = builtins.zipAttrsWith (name: values: values)
            (map (d: builtins.mapAttrs (_: value: { inherit (d) file; inherit value; }) d.value) defs);
          merged = builtins.mapAttrs (name: defs':
            let ds = lib.filterOverrides (concatMap lib.dischargeProperties defs'); in
            { present = ds != [ ]; value = checkedMerge elemType (loc ++ [ name ]) (lib.sortByOrder ds); })
            perName;
        in
        builtins.mapAttrs (_: m: m.value) (lib.filterAttrs (_: m: m.present) merged);
      nestedTypes.elemType = elemType;
    };

    submodule = module: mkOptionType {
      name = "submodule";
      description = "submodule";
      check = x: isAttrs x || builtins.isFunction x;
      merge = loc: defs:
        (lib.evalModules {
          modules = [ module ] ++ map (d:
            if builtins.isFunction d.value then d.value else { _file = d.file; config = d.value; }) defs;
          prefix = loc;
        }).config;
    };

    either = t1: t2: mkOptionType {
      name = "either";
      description = "${t1.description} or ${t2.description}";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        if all (d: t1.check d.value) defs then checkedMerge t1 loc defs
        else if all (d: t2.check d.value) defs then checkedMerge t2 loc defs
        else mergeEqualOption loc defs;
    };
  };
}
