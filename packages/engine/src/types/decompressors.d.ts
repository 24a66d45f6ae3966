// Local typings for decompression packages that ship none (CommonJS). Only what the engine calls.

declare module "unbzip2-stream" {
  namespace unbzip2Stream {
    /** A classic (through) stream: write() decodes synchronously and emits "data" before it returns. */
    interface ThroughStream {
      write(data: Uint8Array): boolean;
      end(): void;
      on(event: "data", listener: (chunk: Buffer) => void): this;
      on(event: "error", listener: (error: Error) => void): this;
    }
  }
  function unbzip2Stream(): unbzip2Stream.ThroughStream;
  export = unbzip2Stream;
}
