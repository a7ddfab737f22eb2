import type { NomadEvent } from "../../shared/nomad/event";

/** How the end-to-end tests compare an event Nomad emitted with one a webhook received: index (zero-padded, so identities sort by it), topic, type, namespace, key. */
export const eventIdentity = (event: Pick<NomadEvent, "Index" | "Topic" | "Type" | "Namespace" | "Key">): string =>
  `${String(event.Index).padStart(10, "0")}/${event.Topic}/${event.Type}/${event.Namespace}/${event.Key}`;
