"""deploy/prometheus/alerts.yml: checked by promtool (rules and their unit tests) when it is installed
(Debian's `prometheus` package), and always by a schema test: every rule is complete, names only
series the app exports, links its runbook section in docs/operations.md, and the alerts the product
promises are all there."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from saas_app.services.core import observability
from saas_app.services.core.metrics_scrape import render_metrics
from saas_app.settings import PROJECT_ROOT

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts_test.yml"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
REQUIRED = {"QuotaRefusalSpike", "SignInFailures", "HighErrorRate", "QueueBacklogOld", "NoLiveWorker",
            "WebhookFailures", "BackupTooOld", "EmailFailures"}
SUFFIXES = ("_total", "_count", "_sum", "_bucket", "_created")


def _rules(path: Path = RULES) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def _exported_families(redis_client: redis.Redis) -> set[str]:
    """The families defined in observability.py, and those /metrics serves (the scrape-time gauges)."""
    defined = {m._name for m in vars(observability).values() if isinstance(m, MetricWrapperBase)}
    served = {family.name for family in text_string_to_metric_families(render_metrics().decode())}
    return defined | served


def _family(series: str) -> str:
    for suffix in SUFFIXES:
        if series.endswith(suffix):
            return series.removesuffix(suffix)
    return series


def problems(rules: list[dict], exported: set[str], docs: str) -> list[str]:
    """What is wrong with a rule file (empty when it is right)."""
    found: list[str] = []
    names = [rule.get("alert", "") for rule in rules]
    found += [f"missing alert {name}" for name in sorted(REQUIRED - set(names))]
    for rule in rules:
        name = rule.get("alert", "<no name>")
        missing = {"alert", "expr", "for", "labels", "annotations"} - set(rule)
        found += [f"{name}: no {key}" for key in sorted(missing)]
        if rule.get("labels", {}).get("severity") not in ("page", "ticket"):
            found.append(f"{name}: severity must be page or ticket")
        notes = rule.get("annotations", {})
        found += [f"{name}: no {key} annotation" for key in ("summary", "description", "runbook") if key not in notes]
        anchor = str(notes.get("runbook", "")).partition("#")[2]
        if not anchor or f"### {name}" not in docs or anchor != name.lower():
            found.append(f"{name}: runbook must be docs/operations.md#{name.lower()} with a '### {name}' section")
        for series in re.findall(r"\bnarrated_[a-z_]+", str(rule.get("expr", ""))):
            if _family(series) not in exported:
                found.append(f"{name}: {series} is not a series the app exports")
    return found


def test_the_alert_rules_are_complete_name_real_series_and_link_their_runbooks(redis_client: redis.Redis) -> None:
    exported = _exported_families(redis_client)
    assert "narrated_workers_live" in exported and "narrated_http_request_duration_seconds" in exported
    assert problems(_rules(), exported, OPERATIONS.read_text()) == []


def test_the_schema_check_catches_a_broken_rule(redis_client: redis.Redis) -> None:
    exported = _exported_families(redis_client)
    broken = [dict(rule) for rule in _rules() if rule["alert"] != "NoLiveWorker"]
    broken[0] = {**broken[0], "expr": "rate(narrated_renderz_total[5m]) > 1", "labels": {}}
    found = problems(broken, exported, OPERATIONS.read_text())
    assert "missing alert NoLiveWorker" in found
    assert any("narrated_renderz_total is not a series" in p for p in found)
    assert any("severity must be" in p for p in found)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (apt install prometheus)")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass(tmp_path: Path) -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(RULES.read_text().replace("> 600", "> > 600"))
    assert subprocess.run(["promtool", "check", "rules", str(bad)], capture_output=True).returncode != 0
