/**
 * The one list of outputs. The service builds each one that is on from its part of the
 * configuration, starts them, shows their status and metric families, mounts their routes and
 * stops them by looping over this list, and the options of each become part of the service's
 * options (`config/options.ts`). A new output is its module and one entry here.
 *
 * @module
 */

import { DSMR_READER } from "./dsmr_reader/output.ts";
import { HISTORY } from "./history/history_output.ts";
import { INFLUX } from "./influx/output.ts";
import { MQTT } from "./mqtt/output.ts";
import { SHARE } from "./share/output.ts";
import { STREAM } from "./stream/output.ts";

/** Every output, in the order of `/api/v1/status`, `/metrics` and the options' help. */
export const OUTPUTS = [DSMR_READER, SHARE, MQTT, HISTORY, INFLUX, STREAM] as const;
