/** XML encode + decode of an EndDevice, documents per second. */
import { encodeEndDevice } from '../adapters/sep2/resources.js';
import { decodeDocument } from '../adapters/sep2/sep2.schemas.js';
import { figure, type Figure } from './stats.js';

export function benchXml(options: { docs: number; runs: number }): Figure[] {
  const samples: number[] = [];
  const data = { lfdi: '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5', deviceCategory: 0x020000, enabled: true, postRate: 60 };
  for (let run = 0; run < options.runs; run += 1) {
    const started = performance.now();
    for (let i = 0; i < options.docs; i += 1) {
      const xml = encodeEndDevice(data, 1_700_000_000 + i);
      decodeDocument('EndDevice', xml);
    }
    samples.push(options.docs / ((performance.now() - started) / 1000));
  }
  return [figure('xml_enddevice', 'XML encode + decode of an EndDevice', 'docs/s', samples)];
}
