/**
 * MQTT 5 topic aliases (§3.3.2.3.4), both directions. The mappings live in the `Connection`
 * (`outAliases`, `inAliases`) and die with it: none is carried to the next connection
 * [MQTT-3.3.2-7]. MQTT 3.1.1 has no aliases.
 *
 * - Outgoing (`aliasOut`): with the `topicAliases` option, the first topics published get an
 *   alias each while the server's Topic Alias Maximum allows; later PUBLISHes of that topic carry
 *   the alias and an empty topic name. No alias is ever replaced.
 * - Incoming (`topicIn`): the server's aliases, up to the Topic Alias Maximum the client sent in
 *   CONNECT.
 */
import { protocolError } from "../errors.js";
import type { PublishPacket } from "../packet/index.js";
import type { MqttClient } from "../client.js";
import type { Connection } from "./connection.js";

/**
 * Gives an MQTT 5 PUBLISH about to be encoded its alias, where the server allows: the known alias
 * of its topic (and an empty topic name), or a new one. Returns true when it made a new alias
 * (`dropAliasOut` takes it back if the packet is not sent after all).
 */
export function aliasOut(conn: Connection, p: PublishPacket): boolean {
  // the server's Topic Alias Maximum; 0 when it sent none [MQTT-3.2.2-18] or `topicAliases` is off
  if (conn.topicAliasMaximum === 0) return false;
  const topic = p.topic;
  let alias = conn.outAliases.get(topic);
  let made = false;
  if (alias !== undefined) p.topic = "";
  // never above the server's maximum [MQTT-3.2.2-17] [MQTT-3.3.2-9]; never 0 [MQTT-3.3.2-8]
  else if (conn.outAliases.size < conn.topicAliasMaximum) {
    alias = conn.outAliases.size + 1;
    conn.outAliases.set(topic, alias);
    made = true;
  }
  if (alias !== undefined) p.properties = { ...p.properties, topicAlias: alias };
  return made;
}

/** Takes back an alias `aliasOut` has just made, for a PUBLISH that is not sent. */
export function dropAliasOut(conn: Connection, topic: string): void {
  conn.outAliases.delete(topic);
}

/** The topic name of a PUBLISH from the server: its own, or the one its alias stands for. */
export function topicIn(c: MqttClient, conn: Connection, p: PublishPacket): string {
  const o = c.options;
  const topic = p.topic;
  if (o.protocolVersion !== 5) return topic;
  const alias = p.properties?.topicAlias;
  if (alias === undefined) {
    if (!topic) throw protocolError("PUBLISH without a topic name or alias"); // §3.3.2.1
    return topic;
  }
  // the server must stay within the maximum the client sent [MQTT-3.3.2-11]; up to it the client
  // accepts every alias [MQTT-3.3.2-10] (0 is refused by the codec, [MQTT-3.3.2-8])
  if (alias > o.topicAliasMaximum) throw protocolError(`topic alias ${alias} is over our maximum ${o.topicAliasMaximum}`, 0x94);
  if (topic) {
    conn.inAliases.set(alias, topic); // a topic name with an alias sets (or changes) the mapping
    return topic;
  }
  const known = conn.inAliases.get(alias);
  if (known === undefined) throw protocolError(`topic alias ${alias} was never defined`); // §3.3.2.3.4
  return known;
}
