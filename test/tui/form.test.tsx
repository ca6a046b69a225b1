// The form takes typed-ahead text that arrives in one chunk with its Enter keys (fast terminals, paste).
import { expect, test } from "bun:test";
import { render } from "ink-testing-library";
import { Form } from "../../tui/components.tsx";
test("typed-ahead chunk with Enter submits", async () => {
  let got: Record<string, string> | undefined;
  const { stdin } = render(
    <Form
      title="t"
      fields={[
        { name: "a", label: "A" },
        { name: "b", label: "B" },
      ]}
      onSubmit={(v) => (got = v)}
      onCancel={() => {}}
    />,
  );
  await new Promise((r) => setTimeout(r, 20));
  stdin.write("one\rtwo\r");
  await new Promise((r) => setTimeout(r, 20));
  expect(got).toEqual({ a: "one", b: "two" });
});
