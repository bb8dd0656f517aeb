"""Log analysis, OSSEC-compatible: pattern dialects, pre-decoding, decoders, rules, the engine.

Public entry points: `ospatrol.analysis.loader.load_ruleset` (and `load_default_ruleset`) build
an immutable `Ruleset`; `ospatrol.analysis.engine.Engine` processes `ospatrol.model.Event`s
against it and keeps all correlation state.
"""
