# Configuration file generators in the style of lib.generators: INI,
# key-value, and a Nix-expression pretty printer, with escaping.
let
  lib = import ./lib;
  inherit (lib) concatStrings concatMapStringsSep mapAttrsToList concatLines;
  inherit (builtins) replaceStrings;

  mkValueString = v:
    if builtins.isBool v then lib.boolToString v
    else if builtins.isInt v then toString v
    else if builtins.isFloat v then builtins.toJSON v
    else if builtins.isList v then concatMapStringsSep ", " mkValueString v
    else if v == null then "null"
    else if builtins.isString v then builtins.replaceStrings [ "\n" "\\" ] [ "\\n" "\\\\" ] v
    else throw "mkValueString: unsupported ${builtins.typeOf v}";

  toKeyValue = { sep ? "=", listsAsDuplicateKeys ? false }: attrs:
    concatStrings (lib.concatMap (name:
      let v = attrs.${name}; in
      if listsAsDuplicateKeys && builtins.isList v
      then map (x: "${name}${sep}${mkValueString x}\n") v
      else [ "${name}${sep}${mkValueString v}\n" ]) (builtins.attrNames attrs));

  toINI = attrsOfAttrs:
    concatMapStringsSep "\n" (section: "[${section}]\n" + toKeyValue { } attrsOfAttrs.${section})
      (builtins.attrNames attrsOfAttrs);

  # Nix syntax for a value, indented.
  toPretty = indent: v:
    let
      pad = lib.replicate indent "  ";
      isIdent = n: builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" n != null;
      showName = n: if isIdent n then n else builtins.toJSON n;
    in
    if builtins.isAttrs v then
      if v == { } then "{ }"
      else "{\n" + concatStrings (mapAttrsToList (n: x: "${pad}  ${showName n} = ${toPretty (indent + 1) x};\n") v) + "${pad}}"
    else if builtins.isList v then
      if v == [ ] then "[ ]"
      else "[\n" + concatStrings (map (x: "${pad}  ${toPretty (indent + 1) x}\n") v) + "${pad}]"
    else if builtins.isString v then
      "\"" + replaceStrings [ "\"" "\\" "\${" "\n" ] [ "\\\"" "\\\\" "\\\${" "\\n" ] v + "\""
    else if v == null then "null"
    else if builtins.isBool v then lib.boolToString v
    else if builtins.isFunction v then "<function>"
    else toString v;

  settings = {
    general = { name = "demo"; verbose = true; level = 3; ratio = 0.5; };
    paths = { data = "/var/lib/demo"; "log file" = "/var/log/demo.log"; };
    multi = { list = [ 1 2 3 ]; text = "two\nlines"; nothing = null; };
  };
in
{
  ini = toINI settings;
  keyValue = toKeyValue { sep = ": "; } settings.general;
  duplicates = toKeyValue { listsAsDuplicateKeys = true; } { server = [ "a" "b" ]; port = 1; };
  pretty = toPretty 0 {
    settings = settings.general;
    list = [ 1 "two" [ ] { } null ];
    "needs quotes" = "a \"quoted\" \${string}";
    fn = x: x;
  };
  unsupported = (builtins.tryEval (mkValueString { })).success;
  lines = concatLines [ "a" "b" ];
}
