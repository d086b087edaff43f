// Runs edumon's firmware logic under real MicroPython (the WebAssembly port) in Node.
//
//   cd firmware/wasm && npm ci && node run_firmware.mjs
//
// Copies every firmware/*.py, the shared LoRaWAN vectors and scenario.py/fakes.py into
// MicroPython's in-memory filesystem, compiles every firmware file (device-only ones too),
// runs scenario.run(vectors) and prints one JSON object on stdout:
// {"implementation": ..., "version": [1, 27, 0], "compiled": [...], "result": {...}}.
// MicroPython's own prints go to stderr. tests/firmware/test_micropython_wasm.py compares the
// result with the vectors and with the same scenario run under CPython.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const here = dirname(fileURLToPath(import.meta.url));
const firmwareDir = join(here, "..");
const firmwareFiles = readdirSync(firmwareDir)
  .filter((name) => name.endsWith(".py") && name !== "secrets.py")
  .sort();
const modules = [
  ...firmwareFiles.map((name) => [firmwareDir, name]),
  [here, "fakes.py"],
  [here, "scenario.py"],
  [join(firmwareDir, "test_vectors"), "lorawan_payloads.json"],
];

const mp = await loadMicroPython({
  stdout: (line) => process.stderr.write(`micropython: ${line}\n`),
  stderr: (line) => process.stderr.write(`micropython: ${line}\n`),
});
mp.FS.mkdir("/firmware");
for (const [dir, name] of modules) {
  mp.FS.writeFile(`/firmware/${name}`, readFileSync(join(dir, name), "utf8"));
}

try {
  mp.runPython(`
import json
import sys

sys.path.append("/firmware")
compiled = []
for name in ${JSON.stringify(firmwareFiles)}:
    with open("/firmware/" + name) as f:
        compile(f.read(), name, "exec")
    compiled.append(name)
import exhibit_device  # device-only, but importable: catches CPython-only code there too
import scenario

with open("/firmware/lorawan_payloads.json") as f:
    vectors = json.load(f)
RESULT = json.dumps({
    "implementation": sys.implementation.name,
    "version": list(sys.implementation.version[:3]),
    "compiled": compiled,
    "result": scenario.run(vectors),
})
`);
} catch (error) {
  process.stderr.write(`MicroPython raised: ${error}\n`);
  process.exit(1);
}
process.stdout.write(`${mp.globals.get("RESULT")}\n`);
