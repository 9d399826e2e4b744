/** A feature's messages: Korean first; English must have exactly the same keys. */
export const defineMessages = <K extends string>(messages: { ko: Record<K, string>; en: NoInfer<Record<K, string>> }) => messages;
