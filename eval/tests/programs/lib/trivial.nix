{ lib }:
{
  id = x: x;
  const = x: _: x;
  flip = f: a: b: f b a;
  pipe = builtins.foldl' (x: f: f x);
  compose = f: g: x: f (g x);
  boolToString = b: if b then "true" else "false";
  min = a: b: if a < b then a else b;
  max = a: b: if a > b then a else b;
  mod = a: b: a - b * (a / b);
  isFunction = f: builtins.isFunction f || (builtins.isAttrs f && f ? __functor);
  # `f x` and its value, or the fallback if that throws.
  tryOr = fallback: x:
    let r = builtins.tryEval x; in if r.success then r.value else fallback;
}
