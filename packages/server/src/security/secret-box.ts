import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StartupError } from "../config.js";

const KEY_FILE = "secret.key";

/**
 * Encrypts integration secrets at rest: AES-256-GCM, a random 12-byte IV per value, the row id as additional
 * data (a ciphertext copied into another row does not decrypt). Stored as `v1:<key id>:<iv>:<tag>:<ciphertext>`;
 * the key id names the key so a rotated key fails with a clear message instead of garbage.
 */
export class SecretBox {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new StartupError("MODELVET_SECRET_KEY must be 32 bytes, base64-encoded");
    this.keyId = createHash("sha256").update(key).digest("hex").slice(0, 8);
  }

  /** The key from MODELVET_SECRET_KEY, else a key file in the data folder (created 0600 on first use). */
  static load(options: { secretKey?: string; dataDir: string }): SecretBox {
    if (options.secretKey) return new SecretBox(Buffer.from(options.secretKey, "base64"));
    const path = join(options.dataDir, KEY_FILE);
    if (!existsSync(path)) {
      mkdirSync(options.dataDir, { recursive: true });
      // "wx" fails if another process created it meanwhile; then we read theirs.
      try {
        writeFileSync(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
    return new SecretBox(Buffer.from(readFileSync(path, "utf8").trim(), "base64"));
  }

  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [
      "v1",
      this.keyId,
      iv.toString("base64"),
      cipher.getAuthTag().toString("base64"),
      ciphertext.toString("base64"),
    ].join(":");
  }

  decrypt(stored: string, aad: string): string {
    const [version, keyId, iv, tag, ciphertext] = stored.split(":");
    if (version !== "v1" || !iv || !tag || ciphertext === undefined) throw new Error("unknown secret format");
    if (keyId !== this.keyId)
      throw new Error("the secret was stored under another key: set MODELVET_SECRET_KEY to the key it was stored with");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString("utf8");
  }
}
