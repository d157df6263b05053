// Several devices under one workload: energy and mean power add up; the peak is that of the total power, which is
// below the sum of the devices' peaks when they do not peak together.
import { describe, expect, it } from 'vitest';
import { analyse, type AnalysisInput } from '../../harness/analyse.js';
import type { Sample } from '../../results/samples.js';

function input(ids: string[]): AnalysisInput {
  const samples: Sample[] = [];
  for (let i = 0; i <= 100; i++) {
    const t = i * 0.1;
    // device a: 300 W at t = 3 s, else 100; device b (read 50 ms later): 300 W at t = 6.05 s, else 80
    samples.push({ tS: t, sourceId: 'sim', deviceId: 'sim:a', powerW: i === 30 ? 300 : 100 });
    samples.push({ tS: t + 0.05, sourceId: 'sim', deviceId: 'sim:b', powerW: i === 60 ? 300 : 80 });
  }
  return {
    source: { id: 'sim', scope: 'device', semantics: { kind: 'instantaneous', updatePeriodMs: 100 }, deviceIds: ids, requestedIntervalMs: 100, restarts: 0, gaps: [] },
    devices: ids.map((id, index) => ({ id, index, vendor: 'sim', name: 'sim' })), samples: samples.filter((s) => ids.includes(s.deviceId)), idle: null,
    repetitions: [{ index: 0, status: 'ok', phases: [{ phase: 'window', startS: 1, endS: 9 }], window: { startS: 1, endS: 9 }, tokens: { total: 1000 }, metrics: [], protocolErrors: 0, truncatedLines: 0 }],
    interrupted: false, repetitionsRequested: 1,
  };
}

describe('several devices', () => {
  it('peak power is the peak of the summed power; each device keeps its own peak', () => {
    const a = analyse(input(['sim:a', 'sim:b']));
    const rep = a.repetitions[0]!;
    expect(rep.devices.map((d) => d.peakPowerW)).toEqual([300, 300]);
    // a's 300 W at 3.0 s meets b at 80 W; b's 300 W at 6.05 s meets a at 100 W: the total never exceeds 400 W
    expect(rep.figures!.peakPowerW).toBeCloseTo(400, 9);
    expect(rep.figures!.meanPowerW).toBeCloseTo(rep.devices[0]!.meanPowerW + rep.devices[1]!.meanPowerW, 9);
  });
  it('one device: its own peak', () => {
    expect(analyse(input(['sim:a'])).repetitions[0]!.figures!.peakPowerW).toBe(300);
  });
});
