/**
 * The parts of jsfive (a pure-JS HDF5 reader, public domain / BSD) that hdf5.ts uses. jsfive ships no types; these
 * describe its runtime objects only as far as we rely on them. Its errors are often thrown strings, not Errors.
 */
declare module "jsfive" {
  /** One header message of an object header: `type`, `size` and the absolute offset of its body. */
  export type HeaderMessage = Map<string, number>;

  export interface DataObjects {
    readonly msgs: HeaderMessage[];
    unpack_attribute(offset: number): [string, unknown];
    determine_data_shape(buffer: ArrayBuffer, offset: number): number[];
  }

  export class File {
    constructor(buffer: ArrayBuffer, filename?: string);
    readonly _dataobjects: DataObjects;
  }
}
