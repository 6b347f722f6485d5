/**
 * A real mosquitto broker for tests: one anonymous listener and one that wants a password,
 * on free loopback ports, with a config and password file written here, and its log kept.
 *
 * @module
 */

/** A running broker. */
export interface Broker {
  /** URL of the anonymous listener. */
  anonymousUrl: string;
  /** URL of the listener that wants `user`/`password`. */
  securedUrl: string;
  /** The user and password the secured listener accepts. */
  user: string;
  password: string;
  /** What the broker logged so far (connections, takeovers: `Client X already connected`). */
  log(): string;
  /** Stops the broker (like a crash or reboot, the same ports come back with `restart`). */
  stop(): Promise<void>;
  /** Starts it again on the same ports. */
  restart(): Promise<void>;
  /** Stops it and removes its files. */
  dispose(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`mosquitto did not listen on ${port}`);
}

/** Whether mosquitto is installed (CI installs it through .ci/run). */
export function haveMosquitto(): boolean {
  try {
    return new Deno.Command("mosquitto", { args: ["-h"], stdout: "null", stderr: "null" })
      .outputSync() !== undefined;
  } catch {
    return false;
  }
}

/** Starts a broker. */
export async function startBroker(): Promise<Broker> {
  const dir = await Deno.makeTempDir();
  const user = "p1reader";
  const password = "correct horse battery staple";
  const passwd = await new Deno.Command("mosquitto_passwd", {
    args: ["-b", "-c", `${dir}/passwd`, user, password],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!passwd.success) throw new Error(new TextDecoder().decode(passwd.stderr));
  // mosquitto started as root drops to its own user, which must be able to read these files.
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(`${dir}/passwd`, 0o644);
  const anonymous = freePort();
  const secured = freePort();
  await Deno.writeTextFile(
    `${dir}/mosquitto.conf`,
    [
      "per_listener_settings true",
      "persistence false",
      "log_dest stderr",
      `listener ${anonymous} 127.0.0.1`,
      "allow_anonymous true",
      `listener ${secured} 127.0.0.1`,
      "allow_anonymous false",
      `password_file ${dir}/passwd`,
      "",
    ].join("\n"),
  );
  let child: Deno.ChildProcess | undefined;
  let log = "";
  let logging: Promise<void> | undefined;
  const start = async () => {
    child = new Deno.Command("mosquitto", {
      args: ["-c", `${dir}/mosquitto.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    logging = (async () => {
      for await (const text of stderr) log += text;
    })();
    await waitForPort(anonymous);
    await waitForPort(secured);
  };
  const stop = async () => {
    if (!child) return;
    child.kill("SIGTERM");
    await child.status;
    await logging;
    child = undefined;
  };
  await start();
  return {
    anonymousUrl: `mqtt://127.0.0.1:${anonymous}`,
    securedUrl: `mqtt://127.0.0.1:${secured}`,
    user,
    password,
    log: () => log,
    stop,
    restart: start,
    async dispose() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
