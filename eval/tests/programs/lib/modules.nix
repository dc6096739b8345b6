# A small module system: modules declare options and define config, with
# mkIf, mkMerge, priorities (mkOverride, mkDefault, mkForce) and ordering
# (mkBefore, mkAfter); option types check and merge the definitions.
{ lib }:
let
  inherit (builtins) isAttrs isFunction isList attrNames concatMap filter head length
    mapAttrs foldl' sort elem genericClosure;

  defaultPriority = 100;
  defaultOrder = 1000;

  isType = type: x: isAttrs x && x ? _type && x._type == type;
in
rec {
  mkOption = attrs: attrs // { _type = "option"; };
  isOption = isType "option";

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # The definitions a definition stands for, mkMerge and mkIf undone; a
  # condition must be a Boolean.
  dischargeProperties = def:
    let v = def.value; in
    if isType "merge" v then concatMap (c: dischargeProperties (def // { value = c; })) v.contents
    else if isType "if" v then
      if !builtins.isBool v.condition then throw "mkIf called with a non-Boolean condition"
      else if v.condition then dischargeProperties (def // { value = v.content; })
      else [ ]
    else if isType "override" v then
      map (d: d // { value = mkOverride v.priority d.value; })
        (dischargeProperties (def // { value = v.content; }))
    else [ def ];

  # Keeps the definitions of the highest priority (lowest number), their
  # mkOverride wrappers removed.
  filterOverrides = defs:
    let
      priorityOf = d: if isType "override" d.value then d.value.priority else defaultPriority;
      strip = d: if isType "override" d.value then d // { value = d.value.content; } else d;
      highest = foldl' (p: d: lib.min p (priorityOf d)) 9999 defs;
    in
    map strip (filter (d: priorityOf d == highest) defs);

  sortByOrder = defs:
    let
      orderOf = d: if isType "order" d.value then d.value.priority else defaultOrder;
      strip = d: if isType "order" d.value then d // { value = d.value.content; } else d;
    in
    map strip (lib.sortOn orderOf defs);

  # mkIf, mkMerge and mkOverride around a set of definitions are pushed
  # into its attributes, so each option sees its own.
  pushDownProperties = value:
    if isType "merge" value then concatMap pushDownProperties value.contents
    else if isType "if" value then
      map (mapAttrs (_: mkIf value.condition)) (pushDownProperties value.content)
    else if isType "override" value then
      map (mapAttrs (_: mkOverride value.priority)) (pushDownProperties value.content)
    else [ value ];

  # Every module reachable through `imports`, each as
  # { file; options; config; }, functions applied to the module arguments.
  collectModules = args: modules:
    let
      load = file: m:
        let
          m' = if isFunction m then m args else m;
          file' = m'._file or file;
          hasStructure = m' ? options || m' ? config || m' ? imports;
        in
        {
          file = file';
          imports = m'.imports or [ ];
          options = m'.options or { };
          config = if hasStructure then m'.config or { } else removeAttrs m' [ "_file" ];
        };
      closure = genericClosure {
        startSet = lib.imap0 (n: m: { key = "module ${toString n}"; module = load "<module ${toString n}>" m; }) modules;
        operator = item: lib.imap0 (n: m:
          let key = if builtins.isPath m then toString m else "${item.key}.${toString n}"; in
          { inherit key; module = load key (if builtins.isPath m then import m else m); })
          item.module.imports;
      };
    in
    map (item: item.module) closure;

  evalModules = { modules, prefix ? [ ], specialArgs ? { } }:
    let
      args = specialArgs // { inherit lib config options; };
      collected = collectModules args modules;

      options = foldl' lib.recursiveUpdate { } (map (m: m.options) collected);

      # The definitions of the option at `loc` (a path) in each module.
      definitionsAt = loc:
        concatMap (m:
          let
            # Properties are pushed down through the sets on the way; the
          # option's own definitions keep theirs.
          atPath = foldl' (values: name:
              concatMap (v: if isAttrs v && v ? ${name} then [ v.${name} ] else [ ])
                (concatMap pushDownProperties values)) [ m.config ] loc;
          in
          map (value: { inherit (m) file; inherit value; }) atPath)
          collected;

      evalOption = loc: opt:
        let
          type = opt.type or lib.types.unspecified;
          defs = lib.filterOverrides (concatMap dischargeProperties (definitionsAt loc));
          defaults = if opt ? default then [ { file = "default"; value = opt.default; } ] else [ ];
          used = if defs != [ ] then defs else defaults;
          merged =
            if used == [ ] then throw "The option `${lib.showOption (prefix ++ loc)}' is used but not defined."
            else lib.checkedMerge type (prefix ++ loc) (sortByOrder used);
        in
        if opt ? apply then opt.apply merged else merged;

      evalOptions = loc: decls:
        mapAttrs (name: decl:
          if isOption decl then evalOption (loc ++ [ name ]) decl
          else evalOptions (loc ++ [ name ]) decl) decls;

      config = evalOptions [ ] options;

      # Definitions of names no option declares.
      unmatched =
        let
          walk = loc: decls: value:
            if isOption decls then [ ]
            else concatMap (v:
              if !isAttrs v then [ ]
              else concatMap (name:
                if decls ? ${name} then walk (loc ++ [ name ]) decls.${name} v.${name}
                else [ (lib.showOption (prefix ++ loc ++ [ name ])) ])
                (attrNames v))
              (pushDownProperties value);
        in
        lib.unique (concatMap (m: walk [ ] options m.config) collected);

      checked =
        if unmatched != [ ] then throw "The option `${head unmatched}' does not exist."
        else config;
    in
    {
      config = checked;
      inherit options;
      inherit unmatched;
    };
}
