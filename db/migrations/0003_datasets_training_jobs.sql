CREATE TABLE "dataset_recordings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dataset_id" uuid NOT NULL,
	"name" text NOT NULL,
	"path" text NOT NULL,
	"bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"transcript" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "training_metrics" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"step" integer NOT NULL,
	"epoch" integer NOT NULL,
	"loss" real,
	"loss_text" real,
	"loss_mel" real,
	"lr" real,
	"samples_per_s" real,
	"gpu_mem_mb" real,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "dataset_clips" ALTER COLUMN "split" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "checkpoints" ADD COLUMN "epoch" integer;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "clip_key" text NOT NULL;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "recording" text;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "start_s" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "end_s" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "normalized_text" text;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "original_text" text;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "cps" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "loudness_dbfs" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "peak_dbfs" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "wer" real;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "status" text DEFAULT 'kept' NOT NULL;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "reasons" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "dataset_clips" ADD COLUMN "excluded" boolean;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "source" text DEFAULT 'recordings' NOT NULL;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "chunker" text;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "options" jsonb;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "job_id" bigint;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "progress" jsonb;--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "cancel_requested" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "progress" jsonb;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "name" text DEFAULT 'run' NOT NULL;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "voice_id" uuid;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "base_checkpoint_id" uuid;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "progress" jsonb;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "job_id" bigint;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "listening_test_id" uuid;--> statement-breakpoint
ALTER TABLE "training_runs" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "dataset_recordings" ADD CONSTRAINT "dataset_recordings_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_metrics" ADD CONSTRAINT "training_metrics_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dataset_recordings_dataset_idx" ON "dataset_recordings" USING btree ("dataset_id");--> statement-breakpoint
CREATE INDEX "training_metrics_run_idx" ON "training_metrics" USING btree ("run_id","kind","step");--> statement-breakpoint
CREATE UNIQUE INDEX "dataset_clips_key_idx" ON "dataset_clips" USING btree ("dataset_id","clip_key");