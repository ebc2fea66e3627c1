/**
 * DER programs and controls as the client reads them (IEEE 2030.5 §10.10, CSIP-AUS DOE modes), and the
 * DERControlResponse it writes. Documents follow IEEE 2030.5-2018 Annex C (as envoy's tests carry them) and the
 * CSIP-AUS schemas; every one is checked against the XSDs first (skipped with a message when sep.xsd is absent).
 */
import { describe, expect, it } from 'vitest';
import { encodeDerControlResponse } from '../../src/adapters/sep2/resources.js';
import { decodeDocument, DecodeError } from '../../src/adapters/sep2/sep2.schemas.js';
import { xsd, xsdMissingReason } from '../helpers/xsd.js';

const NS = 'xmlns="urn:ieee:std:2030.5:ns" xmlns:csipaus="https://csipaus.org/ns"';
const validIfPossible = (doc: string) => {
  if (xsd) expect(xsd.validate(doc, 'csipaus-1.2')).toEqual([]);
};

const programs = `<DERProgramList ${NS} all="2" href="/derp" results="2" pollRate="60">
  <DERProgram href="/derp/0"><mRID>01BE7A7E57</mRID><description>Example DER Program</description>
    <ActiveDERControlListLink all="0" href="/derp/0/actderc"/><DefaultDERControlLink href="/derp/0/dderc"/><DERControlListLink all="2" href="/derp/0/derc"/><primacy>2</primacy></DERProgram>
  <DERProgram href="/derp/1"><mRID>01BE7A7E58</mRID><primacy>1</primacy></DERProgram>
</DERProgramList>`;

const control = (base: string, extra = '') => `<DERControlList ${NS} all="1" href="/derp/0/derc" results="1" subscribable="1">
  <DERControl replyTo="/rsps/1/rsp" responseRequired="03"${extra}><mRID>02BE7A7E57</mRID><description>DOE</description><creationTime>1341446390</creationTime>
    <EventStatus><currentStatus>1</currentStatus><dateTime>1341532800</dateTime><potentiallySuperseded>false</potentiallySuperseded></EventStatus>
    <interval><duration>86400</duration><start>1341446400</start></interval><randomizeDuration>-180</randomizeDuration><randomizeStart>180</randomizeStart>
    <DERControlBase>${base}</DERControlBase></DERControl>
</DERControlList>`;

describe('DER documents', () => {
  it.skipIf(!xsd)(`are valid examples (${xsdMissingReason ?? 'XSDs present'})`, () => {
    validIfPossible(programs);
    validIfPossible(control('<opModConnect>true</opModConnect><csipaus:opModImpLimW><multiplier>3</multiplier><value>5</value></csipaus:opModImpLimW>'));
  });

  it('reads a DERProgramList: primacy, links, pollRate', () => {
    const { doc } = decodeDocument('DERProgramList', programs);
    expect(doc).toMatchObject({ all: 2, results: 2, pollRate: 60 });
    expect(doc.programs[0]).toMatchObject({ href: '/derp/0', mrid: '01BE7A7E57', primacy: 2, defaultControlLink: { href: '/derp/0/dderc' }, controlListLink: { href: '/derp/0/derc', all: 2 } });
    expect(doc.programs[1]).toMatchObject({ mrid: '01BE7A7E58', primacy: 1, controlListLink: undefined });
  });

  it('reads a DERControl: interval, randomization, status, response request, CSIP-AUS limits with their multipliers', () => {
    const { doc } = decodeDocument('DERControlList', control(
      '<opModConnect>true</opModConnect><rampTms>500</rampTms><csipaus:opModImpLimW><multiplier>3</multiplier><value>5</value></csipaus:opModImpLimW><csipaus:opModLoadLimW><multiplier>0</multiplier><value>7000</value></csipaus:opModLoadLimW>'));
    expect(doc.controls).toHaveLength(1);
    expect(doc.controls[0]).toMatchObject({
      mrid: '02BE7A7E57', creationTime: 1341446390, currentStatus: 1, statusTime: 1341532800, start: 1341446400, duration: 86400,
      randomizeStart: 180, randomizeDuration: -180, replyTo: '/rsps/1/rsp', responseRequired: 3,
      base: { opModConnect: true, rampTms: 500, opModImpLimW: 5000, opModLoadLimW: 7000, unsupported: [] },
    });
  });

  it('reads the limits in the v1.3 namespace too, and reports modes it does not implement', () => {
    const v13 = control('<opModVoltWatt href="/derp/0/dc/3"/><ns3:opModExpLimW xmlns:ns3="https://csipaus.org/ns/v1.3"><multiplier>0</multiplier><value>1500</value></ns3:opModExpLimW>');
    const { doc, csipaus } = decodeDocument('DERControlList', v13);
    expect(doc.controls[0]!.base).toMatchObject({ opModExpLimW: 1500, unsupported: ['opModVoltWatt'] });
    expect(csipaus).toBeDefined();
  });

  it('rejects absurd values with a clear error', () => {
    const bad = (base: string, extra = '') => () => decodeDocument('DERControlList', control(base, extra));
    expect(bad('<csipaus:opModImpLimW><multiplier>12</multiplier><value>5</value></csipaus:opModImpLimW>')).toThrow(/multiplier must be -9\.\.9/);
    expect(bad('<csipaus:opModImpLimW><multiplier>0</multiplier><value>99999</value></csipaus:opModImpLimW>')).toThrow(DecodeError);
    expect(() => decodeDocument('DERControlList', control('').replace('<duration>86400</duration>', '<duration>-5</duration>'))).toThrow(/duration/);
    expect(() => decodeDocument('DERControlList', control('').replace('<currentStatus>1</currentStatus>', '<currentStatus>9</currentStatus>'))).toThrow(/currentStatus must be 0\.\.4/);
    expect(() => decodeDocument('DERControlList', control('').replace('<mRID>02BE7A7E57</mRID>', ''))).toThrow(/mRID/);
  });

  it('reads a DefaultDERControl with setGradW', () => {
    const { doc } = decodeDocument('DefaultDERControl', `<DefaultDERControl ${NS} href="/derp/0/dderc"><mRID>03BE7A7E57</mRID><DERControlBase><csipaus:opModImpLimW><multiplier>0</multiplier><value>1500</value></csipaus:opModImpLimW></DERControlBase><setGradW>27</setGradW></DefaultDERControl>`);
    expect(doc).toMatchObject({ href: '/derp/0/dderc', mrid: '03BE7A7E57', setGradW: 27, base: { opModImpLimW: 1500 } });
  });

  it('reads an empty DefaultDERControl base (envoy, when no default is set) as setting no mode', () => {
    const { doc } = decodeDocument('DefaultDERControl', `<DefaultDERControl ${NS} href="/derp/0/dderc"><mRID>03BE7A7E57</mRID><DERControlBase/></DefaultDERControl>`);
    expect(doc.base).toMatchObject({ opModImpLimW: undefined, unsupported: [] });
  });

  it('reads a FunctionSetAssignmentsList', () => {
    const { doc } = decodeDocument('FunctionSetAssignmentsList', `<FunctionSetAssignmentsList ${NS} all="1" results="1" href="/edev/1/fsa" pollRate="300"><FunctionSetAssignments href="/edev/1/fsa/1"><DERProgramListLink all="2" href="/edev/1/fsa/1/derp"/><TimeLink href="/tm"/><mRID>0F</mRID></FunctionSetAssignments></FunctionSetAssignmentsList>`);
    expect(doc).toMatchObject({ pollRate: 300, assignments: [{ href: '/edev/1/fsa/1', derProgramListLink: { href: '/edev/1/fsa/1/derp', all: 2 }, timeLink: { href: '/tm' } }] });
  });

  it('writes a DERControlResponse in schema order', () => {
    const xml = encodeDerControlResponse({ lfdi: '3e4f45ab31edfe5b67e343e5e4562e31984e23e5', status: 2, subject: '02be7a7e57', createdDateTime: 1_800_000_000 });
    expect(xml).toContain('<createdDateTime>1800000000</createdDateTime><endDeviceLFDI>3E4F45AB31EDFE5B67E343E5E4562E31984E23E5</endDeviceLFDI><status>2</status><subject>02BE7A7E57</subject>');
    if (xsd) expect(xsd.validate(xml, 'sep')).toEqual([]);
    expect(() => encodeDerControlResponse({ lfdi: '3E4F45AB31EDFE5B67E343E5E4562E31984E23E5', status: 300, subject: '01', createdDateTime: 0 })).toThrow(RangeError);
  });
});
