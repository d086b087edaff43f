"""The sandbox a vendor `decodeUplink(input)` codec (The Things Network's device repository,
ChirpStack v4) runs in: QuickJS (the `quickjs-ng` package) with a CPU-time and a memory limit,
inside a codec worker process (collectors/lorawan/codec_worker.py), never in the service.

Each decode gets a fresh context (about 0.1 ms): nothing a codec keeps in its globals reaches
the next uplink, whichever device sent it. In that context edumon's runner is made first: it
keeps its own references to what it uses (JSON, Date, eval), freezes the error classes and pins
the conversions of Object.prototype, then loads the codec's source and calls decodeUplink, all
in ONE call under the limits. The runner turns whatever comes back or is thrown into text
inside that call and returns only a string primitive: a codec's toString, getters or Proxy
traps run under the limits or not at all. What can still leave the call is the engine's own
error (interrupted, out of memory), whose class and conversions the codec can no longer touch.
The worker process is the backstop for anything else (collectors/lorawan/codec_runtime.py).

The codec sees `input = {bytes: [...], fPort, recvTime: Date}` and returns
`{data: {...}, warnings: [...], errors: [...]}`; errors mean the uplink is refused.
"""

from __future__ import annotations

from pathlib import Path

import quickjs  # type: ignore[import-untyped]
import yaml

MAX_OUTPUT = 64 * 1024  # characters of the codec's JSON output
FAILED = "!"  # the runner's answer starts with it when the codec failed: "!kind reason"

# Evaluated first in each fresh context; its value is the runner, reachable from Python only.
_RUNNER = r"""
(function () {
  "use strict";
  var global = globalThis, stringify = JSON.stringify, parse = JSON.parse, DateOf = Date;
  var evaluate = eval, define = Object.defineProperty, freeze = Object.freeze;
  var describeOwn = Object.getOwnPropertyDescriptor;
  var classes = [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
                 InternalError, AggregateError, Error];
  var names = classes.map(function (kind) { return kind.name; });
  classes.forEach(function (kind) {
    ["prepareStackTrace", "stackTraceLimit"].forEach(function (name) {
      if (describeOwn(kind, name)) {
        define(kind, name, { value: undefined, writable: false, configurable: false });
      }
    });
    freeze(kind.prototype);
    freeze(kind);
  });
  ["toString", "valueOf", Symbol.toPrimitive].forEach(function (name) {
    define(Object.prototype, name, { writable: false, configurable: false });
  });

  function className(value) {
    for (var i = 0; i < classes.length; i++) {
      if (value instanceof classes[i]) { return names[i]; }
    }
    return "an object";
  }
  function failed(kind, error) {
    var text = "threw a " + typeof error;
    if (typeof error === "string") {
      text = "threw " + error;
    } else if (error !== null && typeof error === "object") {
      var slot = describeOwn(error, "message");
      var name = className(error);
      var message = slot && typeof slot.value === "string" ? slot.value : "";
      if (name === "InternalError" && message === "out of memory") { kind = "codec_memory"; }
      if (name !== "Error" && message.indexOf("stack") >= 0) { kind = "codec_stack"; }
      text = "threw " + name + ": " + message;
    }
    return "!" + kind + " " + text.substring(0, 200);
  }

  return function run(source, text) {
    try {
      evaluate(source);
    } catch (error) {
      return failed("codec_load", error);
    }
    var decode = global.decodeUplink;
    if (typeof decode !== "function") {
      return "!codec_load does not define decodeUplink(input)";
    }
    if (text === "") { return ""; }
    try {
      var input = parse(text);
      input.recvTime = new DateOf(input.recvTime);
      var output = decode(input);
      var json = stringify(output === undefined ? null : output);
      return typeof json === "string" ? json : "!codec_output returned " + typeof output;
    } catch (error) {
      return failed("codec_error", error);
    }
  };
})()
"""
_ENGINE_ERRORS = {
    "InternalError: interrupted": "codec_timeout",
    "InternalError: out of memory": "codec_memory",
}


class CodecLoadError(ValueError):
    """A codec file that cannot be read or does not define decodeUplink."""


def codec_source(path: Path) -> str:
    """The JavaScript of a codec: a .js file, or a device-repository codec YAML whose
    `uplinkDecoder.fileName` names the .js beside it."""
    try:
        if path.suffix in (".yaml", ".yml"):
            meta = yaml.safe_load(path.read_text(encoding="utf-8"))
            name = meta.get("uplinkDecoder", {}).get("fileName") if isinstance(meta, dict) else None
            if not isinstance(name, str):
                raise CodecLoadError(f"{path.name} has no uplinkDecoder.fileName")
            path = path.parent / name
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CodecLoadError(f"cannot read {path}: {error}") from error


def run_codec(source: str, text: str, *, time_limit_s: float, memory_bytes: int) -> str:
    """The codec's output as JSON text, or FAILED + "kind reason". `text` is the input as JSON;
    "" only loads the codec (an empty answer: it defines decodeUplink). Runs JavaScript: call it
    in a codec worker process only."""
    context = quickjs.Context()
    context.set_memory_limit(memory_bytes)
    context.set_time_limit(time_limit_s)
    try:
        answer = context.eval(_RUNNER)(source, text)
    except quickjs.StackOverflow:
        return f"{FAILED}codec_stack stack overflow"
    except quickjs.JSException as error:  # the engine's own error: its text is safe to read
        message = str(error).split("\n", 1)[0]
        return f"{FAILED}{_ENGINE_ERRORS.get(message, 'codec_error')} {message[:200]}"
    except UnicodeDecodeError:  # a JavaScript string that is not UTF-8 (a lone surrogate)
        return f"{FAILED}codec_output returned text that is not UTF-8"
    if not isinstance(answer, str):  # the runner returns strings only
        return f"{FAILED}codec_error the sandbox answered {type(answer).__name__}"
    if len(answer) > MAX_OUTPUT:
        return f"{FAILED}codec_output returned more than {MAX_OUTPUT} characters"
    return answer
