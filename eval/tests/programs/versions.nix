# Version parsing and comparison, as lib.versions does it, and sorting
# packages by version.
let
  lib = import ./lib;
  inherit (lib) versions latestVersion versionInRange sortVersions versionOlder versionAtLeast;

  releases = [ "1.10.0" "1.2.3" "1.2.10" "2.0.0-rc1" "2.0.0" "1.2" "0.9.9" "2.0.0pre1" "1.2.3a" ];

  packages = map builtins.parseDrvName [
    "hello-2.12.1"
    "hello-2.9"
    "gnu-hello-2.12"
    "python3.11-requests-2.31.0"
    "firefox-unwrapped-123.0b5"
    "openssl-3.0.13"
    "openssl-1.1.1w"
    "no-version"
  ];
  newestByName = builtins.mapAttrs (name: ps: latestVersion (map (p: p.version) ps))
    (builtins.groupBy (p: p.name) packages);
in
{
  components = map builtins.splitVersion [ "1.2.3" "2.0pre1" "1.0-rc.2" "20240101" ];
  parts = map (v: { inherit v; major = versions.major v; minor = versions.minor v; majorMinor = versions.majorMinor v; }) [ "3.11.4" "0.1" ];
  patch = versions.patch "1.2.3";
  padded = map (versions.pad 3) [ "1" "1.2" "1.2.3.4" "2.5rc1" ];
  sorted = sortVersions releases;
  latest = latestVersion releases;
  ranges = map (versionInRange "1.2" "2.0") releases;
  comparisons = {
    older = versionOlder "1.2.9" "1.2.10";
    atLeast = versionAtLeast "2.0" "2.0.0";
    preOlder = versionOlder "2.0pre" "2.0";
    letters = builtins.compareVersions "1.0a" "1.0b";
    table = map (a: map (b: builtins.compareVersions a b) [ "1.0" "1.0.0" "1.0pre" "1.1" ]) [ "1.0" "1.0.0" "1.0pre" "1.1" ];
  };
  packages = packages;
  newest = newestByName;
  sortedByName = map (p: "${p.name}@${p.version}")
    (lib.sortOn (p: p.name) (builtins.sort (a: b: builtins.compareVersions a.version b.version > 0) packages));
}
