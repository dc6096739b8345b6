{ lib }:
let
  inherit (builtins) substring stringLength split match filter isString replaceStrings concatStringsSep genList elemAt length;
in
rec {
  concatStrings = concatStringsSep "";
  concatMapStrings = f: list: concatStrings (map f list);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  concatLines = list: concatMapStrings (l: l + "\n") list;

  hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
  hasSuffix = suffix: content:
    let
      lenContent = stringLength content;
      lenSuffix = stringLength suffix;
    in
    lenContent >= lenSuffix && substring (lenContent - lenSuffix) lenContent content == suffix;

  removePrefix = prefix: str:
    if hasPrefix prefix str then substring (stringLength prefix) (stringLength str) str else str;
  removeSuffix = suffix: str:
    if hasSuffix suffix str then substring 0 (stringLength str - stringLength suffix) str else str;

  # Every character of a string, as one-byte strings.
  stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);

  escapeRegex = s: replaceStrings
    [ "\\" "[" "]" "{" "}" "(" ")" "^" "$" "*" "+" "?" "." "|" ]
    [ "\\\\" "\\[" "\\]" "\\{" "\\}" "\\(" "\\)" "\\^" "\\$" "\\*" "\\+" "\\?" "\\." "\\|" ]
    s;

  # The pieces of a string between the separators (a literal string).
  splitString = sep: s: filter isString (split (escapeRegex sep) s);

  lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
  upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  toLower = replaceStrings upperChars lowerChars;
  toUpper = replaceStrings lowerChars upperChars;

  escapeShellArg = arg:
    let s = toString arg; in
    if match "[[:alnum:],._+:@%/-]+" s == null
    then "'${replaceStrings [ "'" ] [ "'\\''" ] s}'"
    else s;
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;

  trim = s:
    let m = match "[[:space:]]*(.*[^[:space:]])[[:space:]]*" s; in
    if m == null then "" else elemAt m 0;

  fixedWidthString = width: filler: str:
    let strw = stringLength str; in
    if strw >= width then str
    else fixedWidthString width filler (filler + str);
  fixedWidthNumber = width: n: fixedWidthString width "0" (toString n);

  intersperse = separator: list:
    if list == [ ] || length list == 1 then list
    else builtins.tail (builtins.concatMap (x: [ separator x ]) list);

  replicate = n: s: concatStrings (genList (_: s) n);

  escapeNixString = s: builtins.toJSON s;

  isValidPosixName = name: match "[a-zA-Z_][a-zA-Z0-9_]*" name != null;

  toShellVar = name: value:
    if !isValidPosixName name then throw "toShellVar: ${name} is not a valid shell variable name"
    else "${name}=${escapeShellArg value}";

  # "key1=value1 key2=..." into a set.
  parseKeyValues = s:
    builtins.listToAttrs (map (kv:
      let m = match "([^=]+)=(.*)" kv; in
      { name = elemAt m 0; value = elemAt m 1; })
      (filter (x: x != "") (splitString " " s)));

  # "CamelCaseName" into "camel-case-name".
  toKebabCase = s:
    let
      parts = split "([A-Z])" s;
      pieces = map (p: if isString p then p else "-" + toLower (elemAt p 0)) parts;
    in
    removePrefix "-" (concatStrings pieces);

  # Splits on commas outside of brackets and quotes is too much for a
  # regex; this splits "a, b ,c" into [ "a" "b" "c" ].
  splitCommaList = s: map trim (splitString "," s);

  stringAsChars = f: s: concatMapStrings f (stringToCharacters s);

  versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
  versionAtLeast = v1: v2: !versionOlder v1 v2;
}
