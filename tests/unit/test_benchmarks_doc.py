"""docs/benchmarks.md is generated from docs/benchmarks/ (bench/render.py); these keep it honest and current."""

from datetime import UTC, datetime
from pathlib import Path

from bench import render, report, results
from bench.results import Figure

DOCS = Path(__file__).resolve().parents[2] / "docs"


def sources(tmp_path: Path, records: list[dict]) -> Path:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "preamble.md").write_text("# Benchmarks\n", encoding="utf-8")
    results.append(tmp_path / "benchmarks" / "results.jsonl", records)
    return tmp_path


def record(figure: str, value: float, date: str, suite: str = "replay") -> dict:
    return Figure(figure, value, "events/s", baseline=100_000).record(suite, datetime.fromisoformat(date), "box")


def current_rows(text: str) -> list[str]:
    current = text.split("## Current figures", 1)[1].split("## Methods", 1)[0]
    return [
        line for line in current.splitlines() if line.startswith("| ") and not line.startswith(("| figure", "| ---"))
    ]


def test_docs_benchmarks_md_is_the_rendering_of_its_sources():
    assert (DOCS / "benchmarks.md").read_text(encoding="utf-8") == render.render(DOCS), (
        "docs/benchmarks.md is out of date: run `.venv/bin/python -m bench render`"
    )


def test_every_current_figure_was_measured_and_judged():
    by_suite = results.latest(results.load(DOCS / "benchmarks" / "results.jsonl"))
    assert set(by_suite) == {
        "rest",
        "simulator",
        "recording",
        "replay",
        "commands",
        "smart-charging",
        "tls",
        "dashboard",
    }
    for row in current_rows(render.render(DOCS)):
        assert row.split(" | ")[5] in {"PASS", "MISS", "n/a"}


def test_the_current_table_shows_the_newest_record_of_each_figure(tmp_path):
    docs = sources(
        tmp_path,
        [
            record("replay (rebuild every view)", 41_000, "2026-12-02 10:00"),
            record("verify (chain + rebuild + compare)", 12_000, "2026-12-01 09:00"),
            record("replay (rebuild every view)", 25_000, "2026-12-01 09:00"),  # older, though written later
        ],
    )

    rows = current_rows(render.render(docs))

    assert rows == [
        "| replay (rebuild every view) | 41,000 events/s | 100,000 events/s | 0.41x | >= 30,000 events/s | PASS "
        "| >= 100,000 events/s | 2026-12-02 10:00 UTC |",
        "| verify (chain + rebuild + compare) | 12,000 events/s | 100,000 events/s | 0.12x | none | n/a "
        "| >= 50,000 events/s | 2026-12-01 09:00 UTC |",
    ]


def test_a_later_record_of_the_same_minute_wins():
    older, newer = record("replay", 1, "2026-12-01 09:00"), record("replay", 2, "2026-12-01 09:00")

    assert results.latest([older, newer]) == {"replay": [newer]}


def test_a_run_appends_its_section_and_figures_then_renders_the_page(tmp_path, monkeypatch):
    docs = sources(tmp_path, [record("replay (rebuild every view)", 25_000, "2026-12-01 09:00")])
    (docs / "benchmarks" / "history.md").write_text("# Benchmark runs\n\n## 2026-12-01 09:00 UTC: Replay\n\nold\n")
    monkeypatch.setattr(report, "DOCS", docs)
    monkeypatch.delenv("BENCH_NO_REPORT", raising=False)

    figure = Figure("replay (rebuild every view)", 42_000, "events/s", 300_000, 0.14)
    assert report.append_section("Replay", ["new"], "replay", [figure], "test box")

    stored = results.load(docs / "benchmarks" / "results.jsonl")
    assert stored[-1]["value"] == 42_000 and stored[-1]["machine"] == "test box"
    assert stored[-1]["date"] >= f"{datetime.now(UTC):%Y-%m-%d}"
    page = (docs / "benchmarks.md").read_text(encoding="utf-8")
    assert "| replay (rebuild every view) | 42,000 events/s | 300,000 events/s | 0.14x |" in page
    history = page.split("## History", 1)[1]
    assert history.index("UTC: Replay\n\nnew") < history.index("### 2026-12-01 09:00 UTC: Replay\n\nold")
