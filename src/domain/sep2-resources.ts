/**
 * The 2030.5 resources as the registration statechart sees them: plain types, decoded from XML by the adapter
 * (src/adapters/sep2/sep2.schemas.ts) and encoded by it (src/adapters/sep2/resources.ts). Hrefs are opaque
 * strings from the server, resolved against the base URL only by the adapter (reference §4.5).
 */
import type { ControlBase } from './der-schedule.js';

export interface Link {
  href: string;
  /** `all` on list links. */
  all?: number | undefined;
}

export interface DeviceCapabilityDoc {
  endDeviceListLink: Link | undefined;
  timeLink: Link | undefined;
  pollRate: number | undefined;
}

export interface EndDeviceDoc {
  href: string | undefined;
  lfdi: string | undefined;
  sfdi: string;
  enabled: boolean | undefined;
  registrationLink: Link | undefined;
  deviceInformationLink: Link | undefined;
  derListLink: Link | undefined;
  connectionPointLink: Link | undefined;
  functionSetAssignmentsListLink?: Link | undefined;
}

export interface EndDeviceListDoc {
  all: number;
  results: number;
  pollRate: number | undefined;
  endDevices: EndDeviceDoc[];
}

export interface RegistrationDoc {
  pin: string;
  dateTimeRegistered: string | undefined;
}

export interface DerDoc {
  href: string | undefined;
  capabilityLink: Link | undefined;
  settingsLink: Link | undefined;
  statusLink: Link | undefined;
  availabilityLink: Link | undefined;
}

export interface DerListDoc {
  all: number;
  results: number;
  pollRate: number | undefined;
  ders: DerDoc[];
}

export interface ConnectionPointDoc {
  connectionPointId: string;
}

export interface TimeDoc {
  currentTime: number;
}

/** FunctionSetAssignments: what the server assigns this EndDevice (the DER programs, its Time). */
export interface FunctionSetAssignmentsDoc {
  href: string | undefined;
  mrid: string | undefined;
  derProgramListLink: Link | undefined;
  timeLink: Link | undefined;
}

export interface FunctionSetAssignmentsListDoc {
  all: number;
  results: number;
  pollRate: number | undefined;
  assignments: FunctionSetAssignmentsDoc[];
}

export interface DerProgramDoc {
  href: string | undefined;
  mrid: string;
  description: string | undefined;
  /** Lower wins. */
  primacy: number;
  defaultControlLink: Link | undefined;
  controlListLink: Link | undefined;
  activeControlListLink: Link | undefined;
}

export interface DerProgramListDoc {
  all: number;
  results: number;
  pollRate: number | undefined;
  programs: DerProgramDoc[];
}

/** The modes of a DERControlBase this client reads (powers in watts, value × 10^multiplier), and what it does not implement. */
export interface ControlBaseDoc extends ControlBase {
  /** Elements of the DERControlBase this client does not implement (e.g. opModVoltVar): a reason to reject. */
  unsupported: string[];
}

export interface DerControlDoc {
  href: string | undefined;
  mrid: string;
  description: string | undefined;
  creationTime: number;
  currentStatus: number;
  /** EventStatus.dateTime. */
  statusTime: number;
  potentiallySuperseded: boolean;
  start: number;
  duration: number;
  randomizeStart: number;
  randomizeDuration: number;
  base: ControlBaseDoc;
  replyTo: string | undefined;
  /** ResponseRequiredType bits: 0 received, 1 specific response (started, completed, ...), 2 user response. */
  responseRequired: number;
}

export interface DerControlListDoc {
  all: number;
  results: number;
  pollRate: number | undefined;
  controls: DerControlDoc[];
}

export interface DefaultDerControlDoc {
  href: string | undefined;
  mrid: string | undefined;
  base: ControlBaseDoc;
  /** Hundredths of a percent of rated power per second. */
  setGradW: number | undefined;
}

/** Decoded documents by the kind a request asks for. */
export interface Sep2Documents {
  DeviceCapability: DeviceCapabilityDoc;
  EndDeviceList: EndDeviceListDoc;
  EndDevice: EndDeviceDoc;
  Registration: RegistrationDoc;
  DERList: DerListDoc;
  DER: DerDoc;
  ConnectionPoint: ConnectionPointDoc;
  Time: TimeDoc;
  DeviceInformation: DeviceInformationData;
  DERCapability: DerCapabilityData;
  DERSettings: DerSettingsData;
  DERStatus: DerStatusData;
  FunctionSetAssignmentsList: FunctionSetAssignmentsListDoc;
  DERProgramList: DerProgramListDoc;
  DERControlList: DerControlListDoc;
  DefaultDERControl: DefaultDerControlDoc;
}
export type Sep2Kind = keyof Sep2Documents;

// ---- outbound data (what the client writes) ----

export interface EndDeviceData {
  lfdi: string;
  deviceCategory: number;
  enabled: boolean;
  postRate?: number | undefined;
}

export interface DeviceInformationData {
  lfdi: string;
  functionsImplemented: number;
  gps?: { lat: string; lon: string } | undefined;
  mfDate: number;
  mfHwVer: string;
  mfID: number;
  mfInfo?: string | undefined;
  mfModel: string;
  mfSerNum: string;
  primaryPower: number;
  secondaryPower: number;
  swActTime: number;
  swVer: string;
}

export interface DerCapabilityData {
  modesSupported: number;
  rtgMaxChargeRateW?: number | undefined;
  rtgMaxDischargeRateW?: number | undefined;
  rtgMaxVA?: number | undefined;
  rtgMaxW: number;
  rtgMaxWh?: number | undefined;
  type: number;
  doeModesSupported: number;
}

export interface DerSettingsData {
  modesEnabled: number;
  setGradW: number;
  setMaxW: number;
  doeModesEnabled: number;
}

export interface DerStatusData {
  /** genConnectStatus bits: 0 connected, 1 available, 2 operating, 3 test, 4 fault. */
  genConnectStatus: number;
}

/** What a document to send carries, by kind. */
export type OutboundDocument =
  | { kind: 'EndDevice'; data: EndDeviceData }
  | { kind: 'DeviceInformation'; data: DeviceInformationData }
  | { kind: 'DER' }
  | { kind: 'DERCapability'; data: DerCapabilityData }
  | { kind: 'DERSettings'; data: DerSettingsData }
  | { kind: 'DERStatus'; data: DerStatusData }
  | { kind: 'ConnectionPoint'; nmi: string };
