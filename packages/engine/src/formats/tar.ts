import { memberData, readTar, sniffTar, type TarOptions } from "../containers/tar.js";
import type { ByteSource } from "../source/byte-source.js";
import type { Probe } from "../source/probe.js";
import { indicateAt, isLegacyTorchTar, scanLegacyStorages, scanLegacyTensors } from "./pytorch.js";
import type { FormatContext, FormatHandler } from "./types.js";

/**
 * Tar archives. torch.load tries the tar reader first on every file it opens (`legacy_load` with Python's
 * tarfile, the pre-0.4 checkpoint of members `sys_info`, `pickle`, `storages`, `tensors`); that layout is parsed
 * the way torch reads it. Every other member is inspected by its content.
 */
export const tarFormat: FormatHandler = {
  name: "tar",
  sniff: (probe: Probe) => sniffTar(probe.head),
  async inspect(source: ByteSource, ctx: FormatContext): Promise<boolean> {
    const options: TarOptions = {
      base: ctx.member,
      maxMembers: ctx.limits.maxMembers,
      deadline: ctx.deadline,
      timeoutMs: ctx.limits.fileTimeoutMs,
    };
    const archive = await readTar(source, options);
    if (archive === undefined) return false;
    ctx.addFormat("tar");
    try {
      const legacy = isLegacyTorchTar(archive.members.map((m) => m.name));
      if (legacy) ctx.addFormat("pytorch-legacy-tar");
      for (const m of archive.members) {
        const data = memberData(source, options, m);
        if (!data) continue;
        // legacy_load reads these two members as pickles interleaved with raw storage and tensor data.
        if (legacy && m.name === "storages") await scanLegacyStorages(data, ctx, data.name);
        else if (legacy && m.name === "tensors") await scanLegacyTensors(data, ctx, data.name);
        else await ctx.inspectChild(data, data.name);
      }
    } finally {
      archive.anomalies.flush((a) => indicateAt(ctx, a.member, a.id, a.message, a.offset));
    }
    return true;
  },
};
