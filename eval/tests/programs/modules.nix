# A small module system in use: option declarations with types, several
# modules defining them with priorities, conditions and merges, a
# submodule per user, and the errors type checking and merging give.
let
  lib = import ./lib;
  inherit (lib) mkOption types mkIf mkMerge mkDefault mkForce mkOverride mkBefore mkAfter evalModules;

  # Whether evaluating (deeply) succeeds; the module system throws.
  succeeds = x: (builtins.tryEval (builtins.deepSeq x x)).success;

  declarations = { config, ... }: {
    options = {
      networking.hostName = mkOption { type = types.str; default = "nixos"; };
      networking.firewall.enable = mkOption { type = types.bool; default = true; };
      networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      services.web = {
        enable = mkOption { type = types.bool; default = false; };
        port = mkOption { type = types.port; default = 80; };
        logLevel = mkOption { type = types.enum [ "debug" "info" "warn" ]; default = "info"; };
        extraConfig = mkOption { type = types.lines; default = ""; };
        tlsCert = mkOption { type = types.nullOr types.str; default = null; };
      };
      users = mkOption {
        default = { };
        type = types.attrsOf (types.submodule ({ config, ... }: {
          options = {
            uid = mkOption { type = types.int; };
            groups = mkOption { type = types.listOf types.str; default = [ ]; };
            shell = mkOption { type = types.str; default = "/bin/sh"; };
            isAdmin = mkOption { type = types.bool; default = builtins.elem "wheel" config.groups; };
          };
        }));
      };
      environment.packages = mkOption {
        type = types.listOf types.str;
        default = [ ];
        apply = lib.unique;
      };
      summary = mkOption { type = types.str; };
    };
    config.summary =
      "${config.networking.hostName}: web ${lib.boolToString config.services.web.enable}"
      + " on ${toString config.services.web.port}, ${toString (builtins.length (builtins.attrNames config.users))} users";
  };

  webModule = { config, ... }: {
    config = mkIf config.services.web.enable {
      networking.firewall.allowedTCPPorts = [ config.services.web.port ];
      environment.packages = [ "nginx" ];
      services.web.extraConfig = mkBefore "worker_processes 1;";
    };
  };

  hostModule = {
    networking.hostName = mkDefault "default-host";
    services.web.enable = true;
    services.web.port = 8080;
    services.web.extraConfig = "server_name example.org;";
    environment.packages = [ "vim" "git" ];
    users.alice = { uid = 1000; groups = [ "wheel" ]; };
    users.bob.uid = 1001;
  };

  overrideModule = { lib, ... }: {
    networking.hostName = "machine";
    services.web.logLevel = mkForce "debug";
    environment.packages = mkMerge [ [ "git" ] (mkIf false [ "never" ]) (mkAfter [ "htop" ]) ];
    users.bob = { groups = [ "users" ]; shell = "/bin/zsh"; };
  };

  lowPriority = {
    services.web.logLevel = "warn";
    networking.firewall.allowedTCPPorts = mkOverride 2000 [ 22 ];
  };

  importing = { imports = [ hostModule overrideModule ]; };

  full = evalModules { modules = [ declarations webModule importing lowPriority ]; };
  minimal = evalModules { modules = [ declarations ]; };

  withBad = extra: evalModules { modules = [ declarations extra ]; };
in
{
  full = full.config;
  minimal = { inherit (minimal.config) summary users; web = minimal.config.services.web; };
  unmatchedNone = full.unmatched;
  errors = {
    wrongType = succeeds (withBad { services.web.port = "80"; }).config.services.web.port;
    portRange = succeeds (withBad { services.web.port = 70000; }).config.services.web.port;
    conflict = succeeds (withBad { imports = [ { networking.hostName = "a"; } { networking.hostName = "b"; } ]; }).config.networking.hostName;
    conflictResolvedByForce = (withBad { imports = [ { networking.hostName = "a"; } { networking.hostName = mkForce "b"; } ]; }).config.networking.hostName;
    badEnum = succeeds (withBad { services.web.logLevel = "trace"; }).config.services.web.logLevel;
    missingUid = succeeds (withBad { users.carol.groups = [ ]; }).config.users;
    undeclared = succeeds (withBad { services.mail.enable = true; }).config;
    undeclaredNames = (withBad { services.mail.enable = true; networking.domain = "x"; }).unmatched;
    badListElement = succeeds (withBad { environment.packages = [ "a" 1 ]; }).config.environment.packages;
    nullMixed = (withBad { imports = [ { services.web.tlsCert = "cert.pem"; } ]; }).config.services.web.tlsCert;
    badCondition = succeeds (withBad { services.web.port = mkIf 1 80; }).config.services.web.port;
    otherOptionsStillWork = (withBad { services.web.port = "80"; }).config.networking.hostName;
  };
}
