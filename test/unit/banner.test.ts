import { describe, expect, it } from "vitest";
import { receiverAddress } from "../../infra/local/banner";

describe("npm start's banner: where the demo receiver should listen for the example sink", () => {
  it.each([
    ["http://127.0.0.1:9000/", "--port 9000"],
    ["http://127.0.0.1/hook", "--port 80"],
    ["http://127.0.0.2:9100/", "--port 9100 --host 127.0.0.2"],
    ["http://[::1]:9000/", "--port 9000 --host ::1"],
    ["http://localhost:9000/x", "--port 9000 --host localhost"],
  ])("%s: %s", (address, flags) => {
    expect(receiverAddress(address)).toBe(flags);
  });

  it.each(["https://127.0.0.1:9000/", "http://10.0.0.1:9000/", "http://[::2]:9000/", "http://example.com/", "not a url"])("%s: not on this machine over http, so no command", (address) => {
    expect(receiverAddress(address)).toBeUndefined();
  });
});
