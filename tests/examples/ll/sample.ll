; A hand-written module for 03_compiler_ir --ll: its live-in sets are worked out by hand in
; sample.live_in. It has what clang and opt -passes=mem2reg write: named types, a global,
; numbered values with an unnamed entry block, phis in a loop header, a multi-line switch, a
; declaration and attribute groups (skipped).
source_filename = "sample.c"

%struct.S = type { i32, i32* }

@g = dso_local global i32 0, align 4

define dso_local i32 @sum(i32 noundef %0, %struct.S* noundef %1) #0 {
  %3 = icmp sgt i32 %0, 0
  br i1 %3, label %4, label %12

4:                                                ; preds = %2, %4
  %5 = phi i32 [ 0, %2 ], [ %9, %4 ]
  %6 = phi i32 [ 0, %2 ], [ %10, %4 ]
  %7 = getelementptr inbounds %struct.S, %struct.S* %1, i32 0, i32 0
  %8 = load i32, i32* %7, align 4
  %9 = add nsw i32 %5, %8
  %10 = add nuw nsw i32 %6, 1
  %11 = icmp eq i32 %10, %0
  br i1 %11, label %12, label %4

12:                                               ; preds = %4, %2
  %13 = phi i32 [ 0, %2 ], [ %9, %4 ]
  ret i32 %13
}

declare i32 @ext(i32 noundef)

define dso_local void @pick(i32 noundef %k, i32* noundef %out) #0 {
entry:
  %a = mul i32 %k, 3
  switch i32 %k, label %default [
    i32 0, label %zero
    i32 1, label %one
    i32 2, label %one
  ]

zero:                                             ; preds = %entry
  store i32 %a, i32* %out, align 4
  br label %done

one:                                              ; preds = %entry, %entry
  %b = add i32 %a, %k
  %c = call i32 @ext(i32 noundef %b)
  store i32 %c, i32* @g, align 4
  br label %done

default:                                          ; preds = %entry
  br label %done

done:                                             ; preds = %default, %one, %zero
  %r = phi i32 [ %a, %zero ], [ %b, %one ], [ 7, %default ]
  store i32 %r, i32* %out, align 4
  ret void
}

attributes #0 = { noinline nounwind uwtable "frame-pointer"="all" }
