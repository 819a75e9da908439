"""EventBridge's default bus, locally: what the AWS services' completion events do on AWS.

The services' emulators put the events AWS would send (glue-local: "Glue Job State Change" when a
run ends; redshift-data-local: "Redshift Data Statement Status Change" when a statement run with
WithEvent ends). The bus matches each one against the rules template.yaml gives the complete
function (CompleteFunction's EventBridgeRule events, read from the template itself, so the local
patterns are the deployed ones) and delivers every match to that function through the Lambda
gateway, on its own thread, as EventBridge invokes a Lambda target asynchronously.

EventBridge's reference calls both services' delivery "best effort", so the bus can be told to
fail that way (`faults`): drop the next n events, deliver the next n twice, or deliver late.

    POST /events        one event, the envelope AWS delivers → {"matched": [rule names]}
    POST /_bus/faults   {"drop": n, "duplicate": n, "delay_seconds": s}: the next n events
    POST /_bus/reset    clears the faults and the record
    GET  /_bus/stats    {"received", "matched", "dropped", "duplicated", "deliveries": [...]}

Runs as a thread of the process that owns the stack (local/stack.py).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
TARGET_RESOURCE = "CompleteFunction"


# ---- the rules, from template.yaml ------------------------------------------------------------

class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Sub, !Ref, ...) kept as {"Fn::<tag>": value}."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _tagged)


def _resolve(value: Any, stack_name: str) -> Any:
    """!Sub strings with ${AWS::StackName} filled; any other function is refused by name."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"].replace("${AWS::StackName}", stack_name)
            if "${" in text:
                raise ValueError(f"the local bus cannot fill {value['Fn::Sub']!r}")
            return text
        if any(k.startswith("Fn::") for k in value):
            raise ValueError(f"the local bus cannot evaluate {value!r} in an event pattern")
        return {k: _resolve(v, stack_name) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, stack_name) for v in value]
    return value


def template_rules(stack_name: str, template: Path = TEMPLATE) -> dict[str, dict]:
    """The complete function's EventBridge rules: {event name: pattern}."""
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506 (SafeLoader subclass)
    events = doc["Resources"][TARGET_RESOURCE]["Properties"]["Events"]
    return {name: _resolve(e["Properties"]["Pattern"], stack_name)
            for name, e in events.items() if e["Type"] == "EventBridgeRule"}


def matches(pattern: dict, event: dict) -> bool:
    """EventBridge's matching for the forms the template uses: every pattern key must be in the
    event; a list matches when the event's value equals one of its values or starts with one of
    its {"prefix": ...}; a nested object matches the nested fields."""
    for key, expected in pattern.items():
        if key not in event:
            return False
        actual = event[key]
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not any(_matches_value(e, actual) for e in expected):
                return False
        else:
            raise ValueError(f"event pattern field {key!r} must be a list or an object, not {expected!r}")
    return True


def _matches_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        if set(expected) != {"prefix"}:
            raise ValueError(f"the local bus implements only the prefix operator, not {expected!r}")
        return isinstance(actual, str) and actual.startswith(expected["prefix"])
    return expected == actual


# ---- the bus ----------------------------------------------------------------------------------

class Bus:
    def __init__(self, rules: dict[str, dict], invoke_url: str):
        self.rules, self.invoke_url = rules, invoke_url
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.faults = {"drop": 0, "duplicate": 0, "delay_seconds": 0.0}
            self.received = self.matched = self.dropped = self.duplicated = 0
            self.deliveries: list[dict] = []

    def arm(self, faults: dict) -> None:
        unknown = set(faults) - set(self.faults)
        if unknown:
            raise ValueError(f"unknown bus faults {sorted(unknown)}; known: {sorted(self.faults)}")
        with self.lock:
            self.faults.update(faults)

    def put(self, event: dict) -> list[str]:
        names = [name for name, pattern in self.rules.items() if matches(pattern, event)]
        with self.lock:
            self.received += 1
            if not names:
                return names
            self.matched += 1
            if self.faults["drop"] > 0:
                self.faults["drop"] -= 1
                self.dropped += 1
                return names
            copies = 1
            if self.faults["duplicate"] > 0:
                self.faults["duplicate"] -= 1
                self.duplicated += 1
                copies = 2
            delay = float(self.faults["delay_seconds"])
        for copy in range(copies):
            threading.Thread(target=self._deliver, args=(event, delay + copy * 0.2),
                             name="eventbridge-delivery", daemon=True).start()
        return names

    def _deliver(self, event: dict, delay: float) -> None:
        time.sleep(delay)
        sent = time.time()
        request = urllib.request.Request(self.invoke_url, data=json.dumps(event).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, answer = resp.status, resp.read().decode(errors="replace")
                error = resp.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as err:
            status, answer, error = err.code, err.read().decode(errors="replace"), "HTTPError"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            status, answer, error = 0, str(err), "Unreachable"
        with self.lock:
            self.deliveries.append({"id": event.get("id"), "detail_type": event.get("detail-type"),
                                    "sent_at": sent, "answered_at": time.time(), "status": status,
                                    "function_error": error, "answer": _json_or_text(answer)})

    def stats(self) -> dict:
        with self.lock:
            return {"received": self.received, "matched": self.matched, "dropped": self.dropped,
                    "duplicated": self.duplicated, "deliveries": list(self.deliveries)}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Handler(BaseHTTPRequestHandler):
    bus: Bus

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path == "/events":
                if not isinstance(body, dict) or not {"source", "detail-type", "detail"} <= set(body):
                    raise ValueError("an event needs source, detail-type and detail")
                self._answer(200, {"matched": self.bus.put(body)})
            elif self.path == "/_bus/faults":
                self.bus.arm(body)
                self._answer(200, {"armed": body})
            elif self.path == "/_bus/reset":
                self.bus.reset()
                self._answer(200, {})
            else:
                self._answer(404, {"message": f"no such path {self.path}"})
        except ValueError as err:
            self._answer(400, {"message": str(err)})

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/_bus/stats":
            self._answer(200, self.bus.stats())
        else:
            self._answer(404, {"message": f"no such path {self.path}"})

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # quiet
        pass


def start(stack_name: str, gateway_url: str, function: str = "complete") -> tuple[ThreadingHTTPServer, Bus]:
    """Serves on a free 127.0.0.1 port until `server.shutdown()`; delivers to `function`."""
    rules = template_rules(stack_name)
    if not rules:
        raise ValueError(f"template.yaml gives {TARGET_RESOURCE} no EventBridgeRule")
    bus = Bus(rules, f"{gateway_url}/2015-03-31/functions/{function}/invocations")
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("BusHandler", (_Handler,), {"bus": bus}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="eventbridge-local", daemon=True).start()
    return server, bus

