"""Log analysis, OSSEC-compatible: pattern dialects, pre-decoding, decoders, rules, the engine.

Entry points: `loader.load_ruleset(ossec_conf, rules_dir=..., decoders=...)` (and
`load_default_ruleset()`) build an immutable `Ruleset`, raising `InputErrors` that name file and
line; `engine.Engine(ruleset)` processes `ospatrol.model.Event`s (`process(event) ->
EngineResult`, with an `Alert` when one is written) and keeps all correlation state;
`logtest` renders results as ossec-logtest does.

Modules: `xmlload` (OSSEC's lenient XML), `fields` (order names), `decoders`/`decoding`,
`plugins` (compiled-in decoders), `rules`/`ruletree`, `cdb` (lists), `gates` (regex
pre-checks), `correlation`, `eventinfo`, `engine`, `logtest`; `patterns`, `osmatch`, `osregex`,
`pcre` and `predecode` implement the pattern dialects and the header parsing. `native` loads
the compiled build of the hot modules when `make install` made one and it is not stale.
"""

from ospatrol.analysis import native as _native

_native.activate()
