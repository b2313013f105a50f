export * from "./types.js";
export * from "./accounts.js";
export * from "./errors.js";
export * from "./posting.js";
export * from "./movements.js";
export * from "./fees.js";
export * from "./invariants.js";
export * from "./disputes.js";
