// edumon-sim co2-lite: the demo's simulated CO2 sensor (simulators/lorawan/vendor_sensor.py),
// a made-up vendor codec in the shape of The Things Network's device repository.
// f_port 5, 8 bytes: 0x21, CO2 u16 ppm, temperature s16 0.01 degC, humidity u8 0.5 %,
// battery u16 mV
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 5 || b.length !== 8 || b[0] !== 0x21) {
    return { errors: ["not a co2-lite frame"] };
  }
  var t = (b[3] << 8) | b[4];
  return {
    data: {
      co2: (b[1] << 8) | b[2],
      temperature: (t > 0x7fff ? t - 0x10000 : t) / 100,
      humidity: b[5] / 2,
      battery_voltage: ((b[6] << 8) | b[7]) / 1000,
    },
    warnings: [],
  };
}
