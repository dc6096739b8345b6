{ a = 1; b.c = x: x; inherit (builtins) map; d = { e, f ? 1 }: e; g = builtins.listToAttrs [ { name = "h"; value = 1; } ]; }
