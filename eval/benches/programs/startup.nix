# Nothing to evaluate: process start-up, `builtins`, printing and exit.
null
