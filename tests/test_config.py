"""The configuration schema: every key declared once, unknown keys and wrong types rejected in one
line, and `claude-perf config` showing each effective value with its origin."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from claude_perf.config.load import config_from_mapping, load_config
from claude_perf.config.schema import Config, LinePattern, ReferenceLatency
from claude_perf.config.show import entries_of, render
from claude_perf.errors import ConfigError
from tests.cli_support import ROOT, run_cli


def error_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw)
    return str(info.value)


# ---------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_names_the_closest_valid_one() -> None:
    assert error_of({"max_latncy_s": 3}) == (
        "config: unknown key 'max_latncy_s' (did you mean 'max_latency_s'?)"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"tiers": {"fast_below": 3}},
            "config: unknown key 'tiers.fast_below' (did you mean 'fast_below_s'?)",
        ),
        (
            {"scoring": {"rules": {"slow_modle_ratio": 1}}},
            "config: unknown key 'scoring.rules.slow_modle_ratio' (did you mean 'slow_model_ratio'?)",
        ),
        (
            {"scoring": {"weights": {"reliabilty": 1}}},
            "config: unknown key 'scoring.weights.reliabilty' (did you mean 'reliability'?)",
        ),
        (
            {"gates": {"compare": {"min_sample": 3}}},
            "config: unknown key 'gates.compare.min_sample' (did you mean 'min_samples'?)",
        ),
        (
            {"references": {"api": {"latency_s": 3, "sorce": "x"}}},
            "config: unknown key 'references.api.sorce' (did you mean 'source'?)",
        ),
        (
            {"patterns": [{"regex": "x"}, {"regex": "y", "rol": "end"}]},
            "config: unknown key 'patterns[1].rol' (did you mean 'role'?)",
        ),
        (
            {"collect": {"patern": "x"}},
            "config: unknown key 'collect.patern' (did you mean 'pattern'?)",
        ),
        (
            {"gates": {"xyz": 1}},
            "config: unknown key 'gates.xyz' (known: fail_under, max_error_rate, min_health, "
            "max_p95, max_ttft_p95, min_goodput, max_replica_p95, compare)",
        ),
    ],
)
def test_unknown_nested_keys(raw: dict[str, Any], message: str) -> None:
    assert error_of(raw) == message


def test_free_key_tables_take_any_name() -> None:
    config = config_from_mapping(
        {"aliases": {"my-model": "Haiku 3.5"}, "gates": {"max_p95": {"any model": "750ms"}}}
    )
    assert config.aliases["my-model"] == "Haiku 3.5"
    assert config.aliases["sonnet"] == "Sonnet 4.5"  # the defaults stay
    assert dict(config.gates.max_p95) == {"any model": 0.75}


# ---------------------------------------------------------------- wrong types and values


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_latency_s": "9s"}, "config: max_latency_s must be a number, not the string '9s'"),
        ({"burst_gap_s": True}, "config: burst_gap_s must be a number, not the boolean true"),
        ({"model_paths": "/v1"}, "config: model_paths must be a list of strings, not the string '/v1'"),
        ({"health_paths": ["/h", 3]}, "config: health_paths[1] must be a string, not the number 3"),
        ({"aliases": {"x": 1}}, "config: aliases.x must be a string, not the number 1"),
        ({"tiers": 3}, "config: [tiers] must be a table, not the number 3"),
        ({"patterns": {"regex": "x"}}, "config: patterns must be an array of tables, not a table"),
        ({"gates": {"compare": {"min_samples": 2.5}}}, "config: gates.compare.min_samples must be a whole number, not the number 2.5"),
        ({"tiers": {"statistic": "max"}}, "config: tiers.statistic must be one of p50, mean, p95, not 'max'"),
        ({"tiers": {"slow_above_s": 1}}, "config: [tiers] needs 0 < fast_below_s <= slow_above_s"),
        ({"scoring": {"health_weight": 2}}, "config: scoring.health_weight must be between 0 and 1, not 2"),
        ({"scoring": {"rules": {"error_burst_min": -1}}}, "config: scoring.rules.error_burst_min must be a number >= 0, not -1"),
        ({"gates": {"max_p95": {"opus": "soon"}}}, "config: gates.max_p95.opus: 'soon' is not a duration (examples: 8s, 750ms, 1.5 for seconds, 2m)"),
        ({"gates": {"fail_under": 11}}, "config: gates.fail_under must be between 0 and 10, not 11"),
        ({"references": {"api": {"source": "x"}}}, "config: [references.api] needs latency_s"),
        ({"patterns": [{"role": "end"}]}, "config: patterns[0] needs regex"),
        ({"patterns": [{"regex": "(x"}]}, "config: patterns[0]: invalid regex '(x': missing ), unterminated subpattern at position 0"),
        ({"patterns": [{"regex": "a++"}]}, "config: patterns[0]: regex 'a++' is not RE2 (the engine that runs it): Invalid regular expression: bad repetition operator: ++"),
        (
            {"dialects": [{"name": "x", "lines": [{"regex": "(?=a)b"}]}]},
            "config: dialects[0].lines[0]: regex '(?=a)b' is not RE2 (the engine that runs it): Invalid regular expression: invalid perl operator: (?=",
        ),
        ({"collect": {"pattern": ""}}, "config: [collect] needs a non-empty pattern (a regex)"),
    ],
)  # fmt: skip
def test_wrong_types_and_values_name_the_key(raw: dict[str, Any], message: str) -> None:
    assert error_of(raw) == message


def test_unknown_time_zone_names_app_timezone() -> None:
    assert error_of({"app_timezone": "Europe/Berln"}) == (
        "config: app_timezone: unknown time zone 'Europe/Berln' "
        "(an IANA name such as 'UTC' or 'Europe/Berlin')"
    )
    assert config_from_mapping({"app_timezone": "Europe/Berlin"}).app_timezone == "Europe/Berlin"


# ---------------------------------------------------------------- typed values and round trip

GOOD = """\
model_paths = ["/v1/messages"]
app_timezone = "Europe/Berlin"
max_latency_s = 600
[aliases]
"claude-x.1" = "Haiku 3.5"
[tiers]
statistic = "p95"
[scoring]
performance_p50_s = [[1, 10], [20, 0]]
weights = { performance = 0.5, reliability = 0.5, efficiency = 0, scalability = 0 }
[scoring.rules]
slow_model_ratio = 3
[references.anthropic-api]
latency_s = [3, 8]
source = "vendor status page"
[gates]
fail_under = 7
max_error_rate = "5%"
[gates.max_p95]
sonnet = "8s"
[gates.compare]
min_samples = 10
[collect]
pattern = "proxy"
[[patterns]]
name = "node"
regex = '^\\[(?P<ts>[^\\]]+)\\] (?P<duration>\\d+)$'
role = "end"
duration_unit = "ms"
"""


def test_a_good_file_gives_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "claude-perf.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.max_latency_s == 600.0 and isinstance(config.max_latency_s, float)
    assert config.tiers.statistic == "p95"
    assert config.scoring.performance_p50_s == ((1.0, 10.0), (20.0, 0.0))
    assert config.scoring.weights.efficiency == 0.0
    assert config.scoring.rules.slow_model_ratio == 3.0
    assert config.references["anthropic-api"] == ReferenceLatency((3.0, 8.0), "vendor status page")
    assert (config.gates.fail_under, config.gates.max_error_rate) == (7.0, 5.0)
    assert dict(config.gates.max_p95) == {"sonnet": 8.0}
    assert config.gates.compare.min_samples == 10
    assert config.patterns == (
        LinePattern(r"^\[(?P<ts>[^\]]+)\] (?P<duration>\d+)$", "end", "node", "ms"),
    )
    assert config.source == str(path)


def test_printed_toml_reads_back_to_the_same_configuration(tmp_path: Path) -> None:
    path = tmp_path / "claude-perf.toml"
    path.write_text(GOOD)
    config = load_config(path)
    again = tmp_path / "again.toml"
    again.write_text(render(config, "toml"))
    assert replace(load_config(again), source=None) == replace(config, source=None)
    defaults = tmp_path / "defaults.toml"
    defaults.write_text(render(Config(), "toml"))
    assert replace(load_config(defaults), source=None) == Config()


def test_origins_default_file_and_option(tmp_path: Path) -> None:
    path = tmp_path / "claude-perf.toml"
    path.write_text(GOOD)
    config = load_config(path, overrides={"tiers": {"fast_below_s": 2}})
    origin = {e.path: e.origin for e in entries_of(config)}
    assert origin[("tiers", "statistic")] == str(path)
    assert origin[("tiers", "fast_below_s")] == "option"
    assert origin[("tiers", "slow_above_s")] == "default"
    assert origin[("aliases", "claude-x.1")] == str(path)
    assert origin[("aliases", "sonnet")] == "default"
    assert origin[("patterns",)] == str(path)
    assert origin[("references", "anthropic-api", "latency_s")] == str(path)
    keys = json.loads(render(config, "json"))["keys"]
    assert {"key": "tiers.fast_below_s", "value": 2.0, "origin": "option"}.items() <= keys[
        [k["key"] for k in keys].index("tiers.fast_below_s")
    ].items()
    assert any(k["key"] == 'aliases."claude-x.1"' for k in keys)


def test_every_key_is_declared_with_one_line_of_documentation() -> None:
    def tables(cls: type) -> list[type]:
        found = [cls]
        for hint in typing.get_type_hints(cls).values():
            for part in (hint, *typing.get_args(hint)):
                if dataclasses.is_dataclass(part) and part not in found:
                    found += tables(typing.cast(type, part))
        return found

    declared = tables(Config)
    assert {t.__name__ for t in declared} >= {"Tiers", "Rules", "LinePattern", "ReferenceLatency"}
    keys = [(t.__name__, f) for t in declared for f in dataclasses.fields(t)]
    assert len(keys) > 60
    bad = [
        f"{name}.{f.name}"
        for name, f in keys
        if not f.metadata.get("internal")
        and (not f.metadata.get("doc") or "\n" in f.metadata["doc"])
    ]
    assert bad == []


def test_the_readme_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration") :]
    block = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    config = config_from_mapping(tomllib.loads(block.group(1)))
    assert config.gates.max_p95["sonnet"] == 8.0 and config.patterns[0].name == "node-proxy"
    assert [d.name for d in config.dialects] == ["my-proxy"]
    assert [line.role for line in config.dialects[0].lines] == ["start", "end", "usage"]
    assert len(config.dialects[0].lines[1].fields) == 3


# ---------------------------------------------------------------- the command

SMALL = 'max_latency_s = 600\n\n[tiers]\nstatistic = "p95"\n\n[gates.max_p95]\nsonnet = "8s"\n'
SMALL_OUTPUT = """\
# claude-perf: the effective configuration; each value's comment says where it came from
# origins: default, option, {path}
model_paths = ["/v1/chat/completions", "/v1/messages", "/v1/completions", "/v1/responses", "/chat/completions", "/completions", "/responses", "/models/*:generateContent", "/models/*:streamGenerateContent", "/models/*:rawPredict", "/models/*:streamRawPredict", "/model/*/invoke", "/model/*/invoke-with-response-stream", "/model/*/converse", "/model/*/converse-stream"]  # default
health_paths = ["/health", "/healthz", "/ready", "/readyz", "/livez"]  # default
app_timezone = "UTC"  # default
max_latency_s = 600.0  # {path}
burst_gap_s = 60.0  # default
patterns = []  # default
dialects = []  # default

[aliases]
sonnet = "Sonnet 4.5"  # default
opus = "Opus 4.1"  # default
haiku = "Haiku 4.5"  # default
"sonnet[1m]" = "Sonnet 4.5"  # default
opusplan = "Opus 4.1"  # default

[tiers]
fast_below_s = 7.0  # default
slow_above_s = 10.0  # default
statistic = "p95"  # {path}

[scoring]
performance_p50_s = [[5.0, 10.0], [30.0, 0.0]]  # default
performance_p95_s = [[10.0, 10.0], [60.0, 0.0]]  # default
reliability_success = [[0.8, 0.0], [0.95, 5.0], [0.99, 8.0], [1.0, 10.0]]  # default
reliability_health = [[0.9, 0.0], [0.99, 8.0], [1.0, 10.0]]  # default
efficiency_cpu_pct = [[50.0, 10.0], [95.0, 0.0]]  # default
efficiency_mem_pct = [[50.0, 10.0], [90.0, 0.0]]  # default
scalability_latency_ratio = [[1.2, 10.0], [3.0, 0.0]]  # default
health_weight = 0.2  # default
restart_penalty = 2.0  # default
min_overlapped = 3  # default

[scoring.weights]
performance = 0.3  # default
reliability = 0.4  # default
efficiency = 0.15  # default
scalability = 0.15  # default

[scoring.rules]
error_rate_warning = 0.05  # default
error_rate_critical = 0.25  # default
error_burst_min = 3  # default
error_burst_window_s = 60.0  # default
health_success_critical = 0.9  # default
cpu_saturation_fraction = 0.9  # default
cpu_single_core_pct = 90.0  # default
memory_growth_bytes_per_min = 1048576.0  # default
memory_growth_min_span_s = 300.0  # default
memory_limit_critical_h = 24.0  # default
latency_concurrency_ratio = 1.5  # default
latency_concurrency_min_n = 3  # default
sequential_busy_fraction = 0.4  # default
sequential_min_requests = 3  # default
slow_model_ratio = 2.0  # default
replica_slow_ratio = 1.5  # default
replica_slow_min_n = 10  # default
replica_error_ratio = 2.0  # default
replica_error_min_failed = 3  # default
replica_starved_share = 0.5  # default
replica_starved_min_per_replica = 10  # default

[references]
# no entries  # default

[gates]
# fail_under: not set  # default
# max_error_rate: not set  # default
# min_health: not set  # default
# min_goodput: not set  # default
# max_replica_p95: not set  # default

[gates.max_p95]
sonnet = 8.0  # {path}

[gates.max_ttft_p95]
# no entries  # default

[gates.compare]
latency_rel = 0.15  # default
latency_abs_s = 0.2  # default
min_samples = 5  # default
rate_abs = 0.05  # default
z_critical = 1.96  # default
resource_rel = 0.2  # default
cpu_abs_pct = 5.0  # default
mem_abs_bytes = 33554432  # default

[slo]
# ttft_s: not set  # default
# latency_s: not set  # default
# itl_s: not set  # default
# output_tokens_per_s: not set  # default

[collect]
pattern = "claude|proxy|api"  # default

[limits]
max_input_bytes = 268435456  # default
max_line_bytes = 1048576  # default
max_bundle_members = 10000  # default
"""


def test_config_command_prints_values_with_their_origin(tmp_path: Path) -> None:
    path = tmp_path / "claude-perf.toml"
    path.write_text(SMALL)
    result = run_cli("config", "--config", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == SMALL_OUTPUT.format(path=path)
    result = run_cli("config", "--config", str(path), "--format", "json")
    assert result.returncode == 0
    keys = {k["key"]: (k["value"], k["origin"]) for k in json.loads(result.stdout)["keys"]}
    assert keys["gates.max_p95.sonnet"] == (8.0, str(path))
    assert keys["gates.fail_under"] == (None, "default")


def test_config_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "claude-perf.toml"
    path.write_text("max_latncy_s = 3\n")
    for command in ("config", "report"):
        result = run_cli(command, "--config", str(path))
        assert result.returncode == 2
        assert result.stderr == (
            "claude-perf: error: config: unknown key 'max_latncy_s' "
            "(did you mean 'max_latency_s'?)\n"
        )
    path.write_text('app_timezone = "Europe/Berln"\n')
    result = run_cli("config", "--config", str(path), "--format", "json")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("claude-perf: error: config: app_timezone: unknown time zone")
    result = run_cli("config", "--format", "yaml")
    assert result.returncode == 2
    assert (
        result.stderr
        == "claude-perf: error: --format must be toml or json for config, not 'yaml'\n"
    )
