"""The import rules of the tree (issue 18), read by tools/alertbutton/layers.py (`alertbutton layers`).

Verdicts: the host side has no circle of imports between host modules (lazy imports count too), no
device module imports the host tools, and the device rules hold (core / drivers / logic / boards /
entry, files over 600 lines need a reason)."""
import pytest

from alertbutton import cli, layers

DEVICE_LAYERS = ("core", "drivers", "logic", "boards", "entry")


@pytest.fixture(scope="module")
def report():
    problems, graph = layers.check()
    return problems, graph


def test_host_has_no_import_circle(report):
    problems, graph = report
    assert [p for p in problems if p.kind == "circle"] == []
    # the checker did walk the nested host packages (a graph of the old flat modules would pass too)
    assert "alertbutton.sim.modem.a76xx" in graph and "alertbutton.falls.command" in graph


def test_no_device_module_imports_the_host_tools(report):
    problems, _graph = report
    assert [p for p in problems if p.kind == "layer" and p.target == "host"] == []


def test_checker_sees_a_circle_and_a_device_import_of_the_host():
    # the verdicts above mean something: the checker finds both kinds when they are there
    assert layers._cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert "host" not in layers.ALLOWED["logic"] and "host" not in layers.ALLOWED["drivers"]
    assert layers.layer_of("alertbutton.sim.modem.faults") == "host"


def test_layers_is_a_subcommand(report, capsys):
    problems, _graph = report
    assert cli.COMMANDS["layers"][0] == "alertbutton.layers"
    rc = cli.main(["layers"])
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[:-1] == list(problems)  # one line per problem, then the count
    assert lines[-1].startswith("%d problem(s): " % len(problems))
    assert rc == (1 if problems else 0)


def test_device_layers(report):
    problems, _graph = report
    device = [p for p in problems if p.layer in DEVICE_LAYERS]
    assert device == [], "\n".join(device)
