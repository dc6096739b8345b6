//! The global scope: `builtins`, `true`/`false`/`null`, the top-level
//! builtins (`map`, `import`, …) and every builtin as `__name`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::builtins::{BuiltinDef, NIX_BUILTINS, TOP_LEVEL, builtin_value};
use crate::compiler::Globals;
use crate::io::EvalIO;
use crate::value::{NixAttrs, NixString, Thunk, ThunkState, Value};
use crate::vm::EvalOptions;

/// The global scope and the handles needed to finish it.
pub struct BuiltGlobals {
    pub scope: Globals,
    /// The thunk `builtins.builtins` holds: the `builtins` set itself.
    pub builtins_set: Thunk,
}

/// `builtins.currentSystem` for the host, in Nix's `arch-os` form.
fn host_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// The constants of `builtins`, as CppNix has them; pure evaluation has
/// no clock, no host system and no search path.
fn constants(options: &EvalOptions, io: &dyn EvalIO) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
        ("langVersion", Value::Int(6)),
        ("nixVersion", Value::string("2.26.3")),
        ("storeDir", Value::string(io.store_dir())),
    ];
    let search_path = if options.pure {
        Vec::new()
    } else {
        options
            .search_path
            .iter()
            .map(|e| {
                Value::Attrs(NixAttrs::from_sorted_unique(vec![
                    (
                        NixString::from("path"),
                        Value::string(e.path.to_string_lossy().into_owned()),
                    ),
                    (
                        NixString::from("prefix"),
                        Value::string(e.prefix.clone().unwrap_or_default()),
                    ),
                ]))
            })
            .collect()
    };
    out.push(("nixPath", Value::list(search_path)));
    if !options.pure {
        let system = options.system.clone().unwrap_or_else(host_system);
        out.push(("currentSystem", Value::string(system)));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        out.push(("currentTime", Value::Int(now)));
    }
    out
}

/// Builds the global scope from the builtin definitions, leaving out
/// those whose experimental feature is off. The builtins written in Nix
/// get blank thunks, filled by `install` once the scope exists to compile
/// them in.
pub fn build(defs: Vec<BuiltinDef>, options: &EvalOptions, io: &dyn EvalIO) -> BuiltGlobals {
    let mut scope: Globals = HashMap::new();
    let mut entries: Vec<(NixString, Value)> = Vec::new();
    let mut bind = |name: &str, value: Value, entries: &mut Vec<(NixString, Value)>| {
        if TOP_LEVEL.contains(&name) || matches!(name, "true" | "false" | "null") {
            scope.insert(name.to_string(), value.clone());
        }
        if !matches!(name, "true" | "false" | "null") {
            scope.insert(format!("__{name}"), value.clone());
        }
        entries.push((NixString::from(name), value));
    };
    let enabled = |def: &BuiltinDef| def.feature.is_none_or(|f| options.has_feature(f));
    for def in defs.into_iter().filter(enabled) {
        let name = def.name;
        bind(name, builtin_value(def), &mut entries);
    }
    for (name, value) in constants(options, io) {
        bind(name, value, &mut entries);
    }
    for (name, _) in NIX_BUILTINS {
        bind(name, Value::Thunk(Thunk::blank()), &mut entries);
    }
    let builtins_set = Thunk::blank();
    entries.push((
        NixString::from("builtins"),
        Value::Thunk(builtins_set.clone()),
    ));
    let set = NixAttrs::from_entries_last_wins(entries);
    builtins_set.replace(ThunkState::Evaluated(Value::Attrs(set.clone())));
    scope.insert("builtins".to_string(), Value::Attrs(set));
    BuiltGlobals {
        scope,
        builtins_set,
    }
}

/// Makes the builtin `name` (one of `NIX_BUILTINS`) evaluate to `value`,
/// the compiled file defining it.
pub fn install(scope: &Globals, name: &str, value: Value) {
    let Some(Value::Thunk(slot)) = scope.get(&format!("__{name}")) else {
        return;
    };
    let state = match value {
        Value::Thunk(compiled) => compiled.replace(ThunkState::Blank),
        other => ThunkState::Evaluated(other),
    };
    slot.replace(state);
}
