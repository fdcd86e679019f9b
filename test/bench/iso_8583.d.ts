// The iso_8583 package ships no types; the benchmark uses this much of it.
declare module 'iso_8583' {
  export default class Iso8583 {
    constructor(data?: Record<number, string>, customFormats?: Record<string, unknown>);
    getBufferMessage(): Buffer;
    getIsoJSON(buf: Buffer, customFormats?: Record<string, unknown>): Record<string, string> & { error?: string };
  }
}
