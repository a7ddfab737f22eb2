import { inject } from "vitest";

// Every test worker addresses the stand-ins through the SDK's own endpoint variables.
Object.assign(process.env, inject("awsEnvironment"), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
