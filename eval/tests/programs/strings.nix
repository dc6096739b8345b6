# String manipulation through split and match, as nixpkgs' lib.strings
# does it: splitting, prefixes, case, shell escaping, trimming.
let
  lib = import ./lib;
  inherit (lib) splitString hasPrefix hasSuffix removePrefix removeSuffix toLower toUpper
    escapeShellArg escapeShellArgs trim fixedWidthNumber intersperse concatStrings
    replicate escapeNixString toShellVar parseKeyValues toKebabCase splitCommaList
    stringAsChars escapeRegex concatMapStringsSep;
in
{
  split = {
    path = splitString "/" "/usr/local/bin";
    dots = splitString "." "a.b..c";
    multiChar = splitString ", " "one, two, three";
    regexChars = splitString "+" "a+b+c";
    noSeparator = splitString "," "abc";
    empty = splitString "," "";
    raw = builtins.split "(a)(b)?" "xaby ab a";
  };
  prefixes = {
    yes = hasPrefix "/nix/" "/nix/store";
    no = hasPrefix "/nix/" "/usr";
    suffix = hasSuffix ".tar.gz" "src.tar.gz";
    suffixTooLong = hasSuffix "long suffix" "short";
    removed = removePrefix "lib" (removeSuffix ".so" "libfoo.so");
    notRemoved = removePrefix "x" "abc";
  };
  case = {
    lower = toLower "Hello, World! ÀB";
    upper = toUpper "make me LOUD 123";
    kebab = toKebabCase "CamelCaseName";
    kebabLeadingLower = toKebabCase "myHTTPServer";
  };
  shell = {
    safe = escapeShellArg "simple-arg_1.0";
    spaces = escapeShellArg "has spaces";
    quote = escapeShellArg "it's";
    empty = escapeShellArg "";
    number = escapeShellArg 42;
    many = escapeShellArgs [ "a" "b c" "$HOME" "x'y" ];
    var = toShellVar "GREETING" "hello world";
    badVar = (builtins.tryEval (toShellVar "1BAD" "x")).success;
  };
  trimming = {
    both = trim "  padded \t\n";
    inner = trim " a  b ";
    onlySpace = trim "   ";
    none = trim "x";
  };
  misc = {
    widths = map (fixedWidthNumber 4) [ 7 42 12345 ];
    interspersed = concatStrings (intersperse ", " [ "a" "b" "c" ]);
    line = replicate 5 "=-";
    nixString = escapeNixString "quote \" and \\ and \${x}";
    keyValues = parseKeyValues "a=1 b=two  c=x=y";
    commaList = splitCommaList " a, b ,c ";
    rot13 = stringAsChars (c:
      let
        lower = lib.stringToCharacters "abcdefghijklmnopqrstuvwxyz";
        index = lib.findFirst (i: builtins.elemAt lower i == c) null (lib.range 0 25);
      in
      if index == null then c else builtins.elemAt lower (lib.mod (index + 13) 26)) "hello, world";
    regexEscaped = escapeRegex "a.b*c";
    matchEscaped = builtins.match (escapeRegex "1+1=2") "1+1=2";
    joined = concatMapStringsSep "\n" (x: "- ${x}") [ "one" "two" ];
  };
  matching = {
    email = builtins.match "([^@]+)@([^@]+)\\.([a-z]+)" "user@example.org";
    notEmail = builtins.match "([^@]+)@([^@]+)" "no-at-sign";
    optionalGroup = builtins.match "([a-z]+)(-([0-9]+))?" "name";
    optionalGroupSet = builtins.match "([a-z]+)(-([0-9]+))?" "name-42";
    url = builtins.match "(https?)://([^/:]+)(:([0-9]+))?(/.*)?" "https://example.org:8443/path/to";
    storePath = builtins.match "/nix/store/([a-z0-9]{32})-(.*)" "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12";
  };
}
