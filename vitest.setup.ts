import fc from "fast-check";

// Property tests explore new random inputs on every local run; CI replays one fixed seed so a landing is
// reproducible. A counterexample found locally becomes a fixed test case.
if (process.env.CI) fc.configureGlobal({ seed: 20261126 });
