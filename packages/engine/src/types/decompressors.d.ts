// Local typings for decompression packages that ship none (both are CommonJS). Only what the engine calls.

declare module "lzma-native" {
  import type { Transform } from "node:stream";

  namespace lzma {
    interface LzmaFilter {
      /** One of the FILTER_* constants. */
      id: string;
      options?: { dictSize?: number; lc?: number; lp?: number; pb?: number; dist?: number };
    }

    interface StreamOptions {
      /** Bytes the decoder may allocate (dictionary and state); a larger need fails the stream. */
      memlimit?: number;
      synchronous?: boolean;
      bufsize?: number;
      filters?: LzmaFilter[];
    }

    function createStream(
      coder: "autoDecoder" | "aloneDecoder" | "rawDecoder" | "streamDecoder",
      options?: StreamOptions,
    ): Transform;

    const FILTER_LZMA1: string;
    const FILTER_LZMA2: string;
    const FILTER_X86: string;
    const FILTER_POWERPC: string;
    const FILTER_IA64: string;
    const FILTER_ARM: string;
    const FILTER_ARMTHUMB: string;
    const FILTER_SPARC: string;
    const FILTER_DELTA: string;
  }
  export = lzma;
}

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
