/** The parts of anywidget's model interface the widget uses (https://anywidget.dev/en/afm/). */

export type Listener = (...args: never[]) => void;

export interface WidgetModel {
  get(name: string): unknown;
  on(event: string, cb: Listener): void;
  off(event: string, cb: Listener): void;
  send(content: unknown, callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void;
}

export interface RenderProps { model: WidgetModel; el: HTMLElement }
export interface InitializeProps { model: WidgetModel }
