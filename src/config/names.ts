/** A setting's flag is its key in kebab-case: maxMessageBytes -> max-message-bytes. */
export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** A setting's env var is REALTIME_ and its key in SNAKE_CASE: maxMessageBytes -> REALTIME_MAX_MESSAGE_BYTES. */
export const envName = (key: string) => "REALTIME_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
