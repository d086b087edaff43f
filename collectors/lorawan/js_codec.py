"""Vendor `decodeUplink(input)` codecs (The Things Network's device repository, ChirpStack v4)
run in QuickJS (the `quickjs-ng` package) with a CPU-time and a memory limit per codec.

QuickJS was picked over V8 (mini-racer) by bench/lorawan_codecs.py: a decode costs about
30 us of CPU in QuickJS and about 380 us in mini-racer (1 ms of wall time: its calls cross to
V8's own thread), and a V8 isolate that hit its memory limit cannot be used again.
QuickJS runs the call on the caller's thread; the limits are its own (an interrupt checks the
CPU time, the allocator refuses past the heap limit), so a codec that loops or hoards is
stopped within its limits, its uplink is refused with the reason, and the codec is loaded
afresh (a hog's globals are gone) for the next uplink. A decode blocks the event loop for at
most the time limit (50 ms by default).

The codec sees `input = {bytes: [...], fPort, recvTime: Date}` and returns
`{data: {...}, warnings: [...], errors: [...]}`; errors mean the uplink is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import quickjs  # type: ignore[import-untyped]
import yaml

from collectors.lorawan.codecs import PayloadError

MAX_OUTPUT = 64 * 1024  # bytes of the codec's JSON output
_ENTRY = "__edumon_decode"
_WRAPPER = f"""
function {_ENTRY}(text) {{
  var input = JSON.parse(text);
  input.recvTime = new Date(input.recvTime);
  var output = decodeUplink(input);
  return JSON.stringify(output === undefined ? null : output);
}}
"""


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


class JsCodec:
    def __init__(self, name: str, source: str, *, time_limit_s: float, memory_bytes: int) -> None:
        self.name = name
        self.source = source
        self.time_limit_s = time_limit_s
        self.memory_bytes = memory_bytes
        self.reloads = 0  # fresh contexts after a limit was hit
        self._decode = self._load()

    def _load(self) -> Any:
        context = quickjs.Context()
        context.set_memory_limit(self.memory_bytes)
        context.set_time_limit(self.time_limit_s)
        try:
            context.eval(self.source)
            context.eval(_WRAPPER)
            defined = context.eval("typeof decodeUplink") == "function"
        except quickjs.JSException as error:
            raise CodecLoadError(f"codec {self.name}: {_first_line(error)}") from error
        if not defined:
            raise CodecLoadError(f"codec {self.name} does not define decodeUplink(input)")
        return context.get(_ENTRY)

    def decode(self, payload: bytes, f_port: int, received_ns: int) -> dict[str, Any]:
        """The codec's `data`; PayloadError with the reason otherwise."""
        text = json.dumps(
            {"bytes": list(payload), "fPort": f_port, "recvTime": received_ns // 1_000_000}
        )
        try:
            result = self._decode(text)
        except quickjs.StackOverflow as error:
            raise self._stopped("codec_stack", f"stack overflow: {_first_line(error)}") from error
        except quickjs.JSException as error:
            message = _first_line(error)
            if message == "InternalError: interrupted":
                raise self._stopped(
                    "codec_timeout", f"stopped after {self.time_limit_s:g} s of CPU time"
                ) from error
            if message == "InternalError: out of memory":
                raise self._stopped(
                    "codec_memory", f"stopped at its {self.memory_bytes} byte heap limit"
                ) from error
            raise PayloadError(f"codec {self.name} threw {message:.200}", "codec_error") from error
        return _data(self.name, result)

    def _stopped(self, kind: str, reason: str) -> PayloadError:
        self._decode = self._load()
        self.reloads += 1
        return PayloadError(f"codec {self.name} {reason}", kind)


def _data(name: str, result: object) -> dict[str, Any]:
    if not isinstance(result, str) or len(result) > MAX_OUTPUT:
        raise PayloadError(f"codec {name} returned more than {MAX_OUTPUT} bytes", "codec_output")
    output = json.loads(result)
    if not isinstance(output, dict):
        raise PayloadError(f"codec {name} returned {output!r:.60}, not an object", "codec_output")
    errors = output.get("errors")
    if errors:
        raise PayloadError(f"codec {name} reports errors: {errors!r:.200}", "codec_error")
    data = output.get("data")
    if not isinstance(data, dict):
        raise PayloadError(f"codec {name} returned no data object", "codec_output")
    return data


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__
