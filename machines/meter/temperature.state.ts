/**
 * Temperature monitor (reference §4.8): warning and error are judged independently on max(temperatureH,
 * temperatureL). A level is raised when the value stays at or above it for the minimum time (the timer restarts
 * when it drops below), and cleared when it falls below the level less the hysteresis.
 */
import { meterSetup, type TemperatureLevel } from './meter.setup.js';

function monitor(level: TemperatureLevel) {
  const fault = level === 'warning' ? 'TemperatureWarning' : 'TemperatureError';
  return meterSetup.createStateConfig({
    initial: 'normal',
    states: {
      normal: {
        on: { TEMPERATURE: { guard: { type: 'temperatureAtOrAbove', params: { level } }, target: 'pending' } },
      },
      pending: {
        after: { temperatureMinTime: 'raised' },
        on: { TEMPERATURE: { guard: { type: 'temperatureBelow', params: { level } }, target: 'normal' } },
      },
      raised: {
        entry: {
          type: 'raiseFault',
          params: ({ context }) => {
            const limit = level === 'warning' ? context.config.temperature.warningC : context.config.temperature.errorC;
            return { fault, message: `the meter's temperature stayed at or above the ${level} level of ${limit} °C for ${context.config.temperature.minTimeMs} ms` };
          },
        },
        exit: { type: 'clearFault', params: { fault } },
        on: { TEMPERATURE: { guard: { type: 'temperatureCleared', params: { level } }, target: 'normal' } },
      },
    },
  });
}

export const temperatureState = meterSetup.createStateConfig({
  type: 'parallel',
  states: { warning: monitor('warning'), error: monitor('error') },
});
