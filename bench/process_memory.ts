/**
 * What the load runs read of the service's process.
 *
 * @module
 */

/** A process's resident memory in MB, as `ps` reports it. */
export async function rssMegabytes(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim()) / 1024;
}
