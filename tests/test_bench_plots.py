"""The benchmark's figures (bench/plots.py): drawn from a small synthetic run into PNG files."""

from __future__ import annotations

import json

import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from bench import plots
from bench.report import update_docs
from bench.settings import deliveries

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def step(rate, p99, cpu, passed=True, generator=20.0, repeat=1):
    return {
        "mode": "fanout",
        "rate_per_sender": rate,
        "deliveries_per_s": rate * 1000 * (0.999 if passed else 0.7),
        "p50_ms": None if p99 is None else p99 / 3,
        "p99_ms": p99,
        "max_ms": None if p99 is None else p99 * 2,
        "delivery_ratio": 1 if passed else 0.7,
        "acks_failed": 0,
        "server_cpu_pct": cpu,
        "generator_cpu_pct": generator,
        "passed": passed,
        "repeat": repeat,
    }


def run():
    """Three repeats with a failed step, a configuration whose only step failed with nothing
    delivered, Node with a generator-bound step, and a skipped PostgreSQL row."""
    return {
        "date": "2026-12-02 11:32 UTC",
        "mode": "full",
        "results": [
            {
                "config": "gunicorn-sqlite",
                "skipped": None,
                "fanout": [
                    [
                        step(4, 4.0, 12),
                        step(8, 3.0, 22),
                        step(16, 6.0, 45),
                        step(32, 240, 99, passed=False),
                    ],
                    [step(16, 5.0, 44, repeat=2), step(24, 9.0, 70, repeat=2)],
                    [step(16, 7.0, 46, repeat=3)],
                ],
                "latency": {**step(10, 4.5, 30), "mode": "latency"},
            },
            {"config": "gunicorn-postgres", "skipped": "PostgreSQL not available", "fanout": []},
            {
                "config": "flask-sqlite",
                "skipped": None,
                "fanout": [[step(4, None, 100, passed=False)]],
                "latency": None,
            },
            {
                "config": "node",
                "skipped": None,
                "fanout": [[step(4, 2.0, 6), step(8, 2.5, 11), step(16, 3.0, 20, generator=93)]],
                "latency": None,
            },
        ],
    }


def points(ax, colour):
    """(x, y, marker) of every line of `colour` drawn in data coordinates."""
    found = []
    for line in ax.get_lines():
        if to_rgba(line.get_color()) != to_rgba(colour) or line.get_transform() != ax.transData:
            continue
        found += [(x, y, line.get_marker()) for x, y in zip(*line.get_data(), strict=True)]
    return found


def test_every_run_draws_two_small_valid_pngs(tmp_path):
    written = plots.draw(run(), tmp_path / "run")

    assert [path.name for path in written] == ["latency.png", "cpu.png"]
    for path in written:
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.size == (800, 520)
        assert path.stat().st_size < 150 * 1024


def test_the_legend_names_each_configuration_that_ran_and_the_title_the_run():
    raw = run()
    for kind in ("latency", "cpu"):
        fig = plots.figure(raw, kind)
        labels = [text.get_text() for text in fig.legends[0].get_texts()]
        assert "this server: gunicorn + gevent, 1 worker, SQLite" in labels
        assert "this server: `flask run` (threading), SQLite" in labels
        assert "Node socket.io 4.8 reference (no storage)" in labels
        assert not any("PostgreSQL" in label for label in labels)  # skipped: nothing to draw
        ax = fig.axes[0]
        assert "2026-12-02 11:32 UTC, full mode" in ax.get_title()
        assert ax.get_xlabel() == "offered deliveries/s (log scale)"
    latency, cpu = plots.figure(raw, "latency").axes[0], plots.figure(raw, "cpu").axes[0]
    assert latency.get_yscale() == "log" and "p99" in latency.get_ylabel()
    assert "CPU" in cpu.get_ylabel() and cpu.get_ylim()[1] >= 110


def test_failed_and_generator_bound_steps_are_marked_where_they_were_measured():
    raw = run()
    latency = plots.figure(raw, "latency").axes[0]
    sqlite = points(latency, plots.COLOURS["gunicorn-sqlite"])
    assert (deliveries(32), 240, "X") in sqlite  # the failed step, at its p99
    assert (deliveries(4), 4.0, "o") in sqlite
    assert (deliveries(10), 4.5, "D") in sqlite  # the latency run
    node = points(latency, plots.COLOURS["node"])
    assert (deliveries(16), 3.0, "^") in node  # generator over its limit

    # The median over the repeats at 16,000/s (5, 6, 7 ms) is on the bold line.
    bold = [line for line in latency.get_lines() if line.get_label().startswith("this server: g")]
    assert (deliveries(16), 6.0) in list(zip(*bold[0].get_data(), strict=True))


def test_a_configuration_with_a_single_failed_step_is_drawn():
    raw = run()
    cpu = plots.figure(raw, "cpu").axes[0]
    assert (deliveries(4), 100, "X") in points(cpu, plots.COLOURS["flask-sqlite"])
    # Nothing arrived, so no p99: its failure is marked at the top of the latency figure.
    latency = plots.figure(raw, "latency").axes[0]
    top = [
        line
        for line in latency.get_lines()
        if line.get_marker() == "X" and line.get_transform() != latency.transData
    ]
    assert len(top) == 1 and list(top[0].get_xdata()) == [deliveries(4)]


def test_a_run_without_fan_out_steps_draws_nothing(tmp_path):
    raw = {"date": "d", "mode": "quick", "results": [{"config": "node", "fanout": []}]}
    assert plots.draw(raw, tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


def test_update_docs_shows_the_published_figures(tmp_path, monkeypatch):
    drawn = plots.draw(run(), tmp_path / "results" / "stamp")
    docs = tmp_path / "docs"
    (docs / "performance").mkdir(parents=True)
    (docs / "performance" / "stale.png").write_bytes(b"")  # not one of ours: left alone
    published = plots.publish(drawn, docs / "performance")
    assert [p.read_bytes() for p in published] == [p.read_bytes() for p in drawn]
    assert (docs / "performance" / "stale.png").exists()

    doc = docs / "performance.md"
    doc.write_text("# Performance\n\n## Latest run\n\nold\n\n## History\n\nkept\n")
    monkeypatch.setattr("bench.report.DOC", doc)
    update_docs("- Date: x\n\n" + "\n".join(plots.markdown(published, "performance/")) + "\n")

    text = doc.read_text()
    assert "![p99 latency (ms, log scale) against offered deliveries/s" in text
    assert "(performance/latency.png)\n\n![server CPU (% of one core)" in text  # one per paragraph
    assert text.rstrip().endswith("(performance/cpu.png)\n\n## History\n\nkept")
    assert "old" not in text and "kept" in text


def test_publishing_a_run_that_drew_nothing_removes_the_earlier_figures(tmp_path):
    docs = tmp_path / "performance"
    plots.publish(plots.draw(run(), tmp_path / "a"), docs)
    assert sorted(p.name for p in docs.iterdir()) == ["cpu.png", "latency.png"]
    assert plots.publish([], docs) == []
    assert list(docs.iterdir()) == []


def test_redraw_from_a_recorded_json(tmp_path, capsys):
    source = tmp_path / "20261202T113259Z.json"
    source.write_text(json.dumps(run()))
    assert plots.main([str(source)]) == 0
    assert (tmp_path / "20261202T113259Z" / "latency.png").exists()
    assert capsys.readouterr().out.count(".png") == 2


@pytest.mark.parametrize("kind", ["latency", "cpu"])
def test_a_quick_run_with_one_repeat_has_no_repeat_legend(kind):
    raw = run()
    raw["mode"] = "quick"
    raw["results"][0]["fanout"] = raw["results"][0]["fanout"][:1]
    labels = [t.get_text() for t in plots.figure(raw, kind).legends[0].get_texts()]
    assert not any("each repeat" in label for label in labels)
    assert any("each repeat" in t.get_text() for t in plots.figure(run(), kind).legends[0].texts)
